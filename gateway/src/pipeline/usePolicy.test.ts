import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger, type SecurityEvent, type SecurityEventWriter } from '@coherence/platform';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSecurityMetrics } from '../createSecurityMetrics';
import { createPersistedOperations } from '../persisted/createPersistedOperations';
import { createAuthorizer } from '../policy/createAuthorizer';
import type { DecisionRecorder, RecordedDecision } from '../policy/createDecisionRecorder';
import { createPolicyEngine } from '../policy/createPolicyEngine';
import { policyBundleDir } from '../policy/loadPolicyBundle';
import { supergraphPath } from '../supergraph/subgraphs';
import type { GatewayStep, RequestTenant } from './GatewayStep';
import { testContext, testPrincipal } from './testContext';
import { usePolicy } from './usePolicy';

const logger = createLogger('test', 'silent');
const operations = createPersistedOperations(manifest, apiSchemaFromSupergraph(readFileSync(supergraphPath, 'utf8')));
const tenantCoherence = operations.get(manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id)!;
const metrics = createSecurityMetrics(new Registry());
let step: GatewayStep;
/** The same step with its audit rows kept here (the writers' own tests write them to Postgres). */
let auditedStep: GatewayStep;
const decisions: RecordedDecision[] = [];
const events: SecurityEvent[] = [];

beforeAll(async () => {
  const policy = createPolicyEngine(logger);
  expect((await policy.activate(policyBundleDir)).ok).toBe(true);
  step = usePolicy({ authorize: createAuthorizer({ policy, metrics, region: 'us', pausedScopes: [] }), metrics });
  const audit = {
    decisions: { record: (decision: RecordedDecision) => void decisions.push(decision) } as DecisionRecorder,
    events: { record: (event: SecurityEvent) => void events.push(event) } as SecurityEventWriter,
  };
  auditedStep = usePolicy({ authorize: createAuthorizer({ policy, metrics, region: 'us', pausedScopes: [], audit }), metrics });
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

  it("files the decision and security event of a target nobody registered under '-', not under the id the caller sent", async () => {
    const madeUp = 'made-up-tenant';
    const context = readOf(madeUp, 'us');
    context.tenant = { tenantId: madeUp, record: undefined, residency: new Map() };
    expect(await auditedStep.onRequest!(context)).toMatchObject({ extensions: { reasonCode: 'TENANT_MISMATCH' } });
    expect(decisions.at(-1)).toMatchObject({ tenantId: '-', allow: false, reasonCode: 'TENANT_MISMATCH' });
    expect(events.at(-1)).toMatchObject({
      kind: 'TENANT_MISMATCH',
      tenantId: '-',
      details: expect.objectContaining({ tenantIds: [madeUp] }),
    });
  });

  it('files a registered target under its own id', async () => {
    expect(await auditedStep.onRequest!(readOf('globex', 'us'))).toMatchObject({ extensions: { reasonCode: 'TENANT_MISMATCH' } });
    expect(decisions.at(-1)).toMatchObject({ tenantId: 'globex', reasonCode: 'TENANT_MISMATCH' });
    expect(events.at(-1)).toMatchObject({ kind: 'TENANT_MISMATCH', tenantId: 'globex' });
  });
});
