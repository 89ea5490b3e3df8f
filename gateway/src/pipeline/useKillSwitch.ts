import type { GatewayOperation } from '../persisted/createPersistedOperations';
import { assertReached, refusal, type GatewayStep } from './GatewayStep';

/** Said to clients of both transports when `v24.coherence` is off. */
const FEATURE_DISABLED_MESSAGE = 'coherence is switched off for now (kill switch v24.coherence); ingest still accepts signals';

/**
 * The `v24.coherence` kill switch (docs/adr/0007): FEATURE_DISABLED for an
 * operation the coherence subgraph serves. Wired before the limiter and the
 * cache, so a switched-off operation spends no share and is never answered
 * from the cache; open subscriptions keep streaming.
 */
export function useKillSwitch(options: { isSwitchedOff: (operation: GatewayOperation) => boolean }): GatewayStep {
  return {
    name: 'kill-switch',
    span: false,
    onRequest(context) {
      assertReached(context, 'kill-switch', 'operation');
      return options.isSwitchedOff(context.operation) ? refusal('FEATURE_DISABLED', FEATURE_DISABLED_MESSAGE) : undefined;
    },
  };
}
