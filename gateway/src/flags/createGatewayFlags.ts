import { createFeatureFlags, flagNames, type FlagsConfig } from '@coherence/flags';
import type { Logger } from '@coherence/platform';
import { Counter, type Registry } from 'prom-client';
import type { GatewayOperation } from '../persisted/createPersistedOperations';
import { subgraphRootFields } from './subgraphRootFields';

export interface GatewayFlagsOptions {
  config: FlagsConfig & { GATEWAY_REGION: string };
  /** The supergraph the gateway runs: which root fields the coherence subgraph serves is read from it. */
  supergraphSdl: string;
  logger: Logger;
  metrics: Registry;
}

/** Response headers that say which region answered and how the gateway sees its flags. */
export const GATEWAY_REGION_HEADER = 'x-coherence-region';
export const GATEWAY_FLAGS_HEADER = 'x-coherence-flags';

export type GatewayFlags = Awaited<ReturnType<typeof createGatewayFlags>>;

/**
 * What the gateway does with the feature flags (docs/adr/0007):
 * `v24.coherence` off refuses every operation with a root field the
 * coherence subgraph serves (FEATURE_DISABLED; ingest's mutation goes on);
 * `region-routing` on sends the gateway's region as a hint to the coherence
 * subgraph, which then reads that region's replica.
 */
export async function createGatewayFlags(options: GatewayFlagsOptions) {
  const { config, logger } = options;
  const flags = createFeatureFlags({ config, appName: 'gateway', logger, metrics: options.metrics });
  // A short wait so a gateway that can reach Unleash does not serve its first
  // requests on bootstrap states; past it, it starts on them and catches up.
  if (!(await flags.waitUntilSynchronized(2_000))) logger.warn('unleash has not answered yet; starting on the bootstrap flag states');
  const coherenceFields = subgraphRootFields(options.supergraphSdl, 'COHERENCE');
  const refusals = new Counter({
    name: 'gateway_feature_disabled_total',
    help: 'Operations refused with FEATURE_DISABLED because the v24.coherence kill switch is off.',
    labelNames: ['operation'],
    registers: [options.metrics],
  });
  return {
    /** True (and counted) when the kill switch is off and the operation touches the coherence subgraph. */
    isSwitchedOff(operation: Pick<GatewayOperation, 'type' | 'name' | 'shape'>): boolean {
      if (flags.isEnabled(flagNames.coherence)) return false;
      const touchesCoherence = operation.shape.rootFields.some((field) => coherenceFields.has(`${operation.type}.${field}`));
      if (touchesCoherence) refusals.inc({ operation: operation.name });
      return touchesCoherence;
    },
    /** The region hint for the coherence subgraph, while region routing is on. */
    regionHint: (): string | undefined => (flags.isEnabled(flagNames.regionRouting) ? config.GATEWAY_REGION : undefined),
    /**
     * The flag states this gateway acts on and its region, for the Workbench's
     * status view (docs/adr/0030-workbench-app.md): on every `/graphql` answer.
     */
    statusHeaders: (): Record<string, string> => ({
      [GATEWAY_REGION_HEADER]: config.GATEWAY_REGION,
      [GATEWAY_FLAGS_HEADER]: [flagNames.coherence, flagNames.regionRouting]
        .map((name) => `${name}=${flags.isEnabled(name) ? 'on' : 'off'}`)
        .join(', '),
    }),
    close: () => flags.close(),
  };
}
