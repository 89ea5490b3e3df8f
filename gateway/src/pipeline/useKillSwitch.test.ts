import { readFlagsConfig } from '@coherence/flags';
import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import costs from '@coherence/persisted-queries/costs.json' with { type: 'json' };
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger } from '@coherence/platform';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createGatewayFlags, type GatewayFlags } from '../flags/createGatewayFlags';
import { createPersistedOperations, type GatewayOperation } from '../persisted/createPersistedOperations';
import { supergraphPath } from '../supergraph/subgraphs';
import { testContext, testPrincipal } from './testContext';
import { useKillSwitch } from './useKillSwitch';

const supergraphSdl = readFileSync(supergraphPath, 'utf8');
const operations = createPersistedOperations(manifest, costs, apiSchemaFromSupergraph(supergraphSdl));
const operation = (name: string) => operations.get(manifest.operations.findLast((op) => op.name === name)!.id)!;
const logger = createLogger('test', 'silent');

/** The operations the coherence subgraph serves (a root field of its own), and those it does not (comms'). */
const coherenceOperations = ['TenantCoherence', 'Signals', 'CoherenceEvents'];
const commsOperations = [
  'Messages',
  'Commands',
  'CommandAudit',
  'TroubleshootingQueue',
  'RetryCommand',
  'CancelCommand',
  'CompleteCommand',
];

/** A request the earlier steps have let through as far as the kill switch: the operation is known. */
const requestFor = (name: string) =>
  testContext({ principal: testPrincipal('acme'), operation: operation(name), variables: { tenantId: 'acme' }, tenantIds: ['acme'] });

describe('useKillSwitch', () => {
  it('refuses a switched-off operation with FEATURE_DISABLED and the message naming the switch', () => {
    const step = useKillSwitch({ isSwitchedOff: () => true });
    expect(step.onRequest!(requestFor('TenantCoherence'))).toEqual({
      code: 'FEATURE_DISABLED',
      message: 'coherence is switched off for now (kill switch v24.coherence); ingest still accepts signals',
      extensions: {},
    });
  });

  it('lets an operation that is not switched off through', () => {
    const step = useKillSwitch({ isSwitchedOff: () => false });
    expect(step.onRequest!(requestFor('TenantCoherence'))).toBeUndefined();
  });

  it("asks the predicate about the request's own operation, and decides by its answer", () => {
    const asked: GatewayOperation[] = [];
    const step = useKillSwitch({
      isSwitchedOff: (op) => {
        asked.push(op);
        return op.name === 'Signals';
      },
    });
    const signals = requestFor('Signals');
    const messages = requestFor('Messages');
    expect(step.onRequest!(signals)).toMatchObject({ code: 'FEATURE_DISABLED' });
    expect(step.onRequest!(messages)).toBeUndefined();
    expect(asked).toHaveLength(2);
    expect(asked[0]).toBe(signals.operation);
    expect(asked[1]).toBe(messages.operation);
  });

  it('throws when wired before the operation is known, without asking the predicate', () => {
    let asked = 0;
    const step = useKillSwitch({
      isSwitchedOff: () => {
        asked += 1;
        return true;
      },
    });
    const context = testContext({ principal: testPrincipal('acme') });
    expect(() => step.onRequest!(context)).toThrow('gateway step kill-switch ran before operation was known');
    expect(asked).toBe(0);
  });
});

describe('useKillSwitch on the gateway flags (v24.coherence from FLAGS_BOOTSTRAP, no Unleash server)', () => {
  let flags: GatewayFlags | undefined;
  afterEach(() => flags?.close());

  async function killSwitchWith(bootstrap: string) {
    const metrics = new Registry();
    flags = await createGatewayFlags({
      config: { ...readFlagsConfig('test', { FLAGS_BOOTSTRAP: bootstrap }), GATEWAY_REGION: 'us' },
      supergraphSdl,
      logger,
      metrics,
    });
    const gatewayFlags = flags;
    const step = useKillSwitch({ isSwitchedOff: (op) => gatewayFlags.isSwitchedOff(op) });
    const refusedCount = async (name: string) => {
      const metric = (await metrics.getMetricsAsJSON()).find((m) => m.name === 'gateway_feature_disabled_total');
      const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
      return values.find((v) => v.labels['operation'] === name)?.value ?? 0;
    };
    return { step, refusedCount };
  }

  it('switched off: refuses every operation of the coherence subgraph, and counts each refusal', async () => {
    const { step, refusedCount } = await killSwitchWith('v24.coherence=off');
    for (const name of coherenceOperations) {
      expect(step.onRequest!(requestFor(name)), name).toMatchObject({ code: 'FEATURE_DISABLED' });
      expect(await refusedCount(name), name).toBe(1);
    }
  });

  it('switched off: lets the operations of the other subgraphs (comms) through, uncounted', async () => {
    const { step, refusedCount } = await killSwitchWith('v24.coherence=off');
    for (const name of commsOperations) {
      expect(step.onRequest!(requestFor(name)), name).toBeUndefined();
      expect(await refusedCount(name), name).toBe(0);
    }
  });

  it('on (the default state): lets every persisted operation through', async () => {
    const { step } = await killSwitchWith('');
    const names = [...new Set(manifest.operations.map((op) => op.name))];
    expect(names).toEqual(expect.arrayContaining([...coherenceOperations, ...commsOperations]));
    for (const name of names) expect(step.onRequest!(requestFor(name)), name).toBeUndefined();
  });
});
