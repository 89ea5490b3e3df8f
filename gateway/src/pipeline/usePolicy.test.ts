import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import costs from '@coherence/persisted-queries/costs.json' with { type: 'json' };
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger } from '@coherence/platform';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSecurityMetrics } from '../createSecurityMetrics';
import { createPersistedOperations } from '../persisted/createPersistedOperations';
import { createAuthorizer } from '../policy/createAuthorizer';
import { createPolicyEngine } from '../policy/createPolicyEngine';
import { policyBundleDir } from '../policy/loadPolicyBundle';
import { supergraphPath } from '../supergraph/subgraphs';
import type { GatewayStep, RequestTenant } from './GatewayStep';
import { testContext, testPrincipal } from './testContext';
import { usePolicy } from './usePolicy';

const logger = createLogger('test', 'silent');
const operations = createPersistedOperations(manifest, costs, apiSchemaFromSupergraph(readFileSync(supergraphPath, 'utf8')));
const tenantCoherence = operations.get(manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id)!;
const metrics = createSecurityMetrics(new Registry());
let step: GatewayStep;

beforeAll(async () => {
  const policy = createPolicyEngine(logger);
  expect((await policy.activate(policyBundleDir)).ok).toBe(true);
  step = usePolicy({ authorize: createAuthorizer({ policy, logger, metrics, region: 'us', pausedScopes: [] }), metrics });
});

/** A read of `tenantId`'s coherence by a self-scoped token of `acme`, the tenant residing in `residency`. */
function readOf(tenantId: string, residency: string) {
  const tenant: RequestTenant = {
    tenantId,
    record: { residency, weight: 1, cacheTtlSeconds: null },
    residency: new Map([[tenantId, residency]]),
  };
  return testContext({
    principal: testPrincipal('acme'),
    operation: tenantCoherence,
    variables: { tenantId },
    tenantIds: [tenantId],
    tenant,
  });
}

describe('usePolicy (the committed bundle)', () => {
  it('lets an allowed request through and times it', async () => {
    expect(await step.onRequest!(readOf('acme', 'us'))).toBeUndefined();
    expect((await metrics.requestSecuritySeconds.get()).values.find((v) => v.labels.le === '+Inf')?.value).toBe(1);
  });

  it.each([
    ['another tenant', readOf('globex', 'us'), 'TENANT_MISMATCH'],
    ['a tenant residing elsewhere (the residency the tenant step read)', readOf('acme', 'eu'), 'RESIDENCY_VIOLATION'],
  ])('refuses %s as FORBIDDEN with the reason code', async (_name, context, reasonCode) => {
    expect(await step.onRequest!(context)).toEqual({
      code: 'FORBIDDEN',
      message: `denied by policy: ${reasonCode}`,
      extensions: { reasonCode },
    });
  });
});
