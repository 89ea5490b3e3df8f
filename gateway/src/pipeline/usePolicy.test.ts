import { devArtifactPublicKeyPath, readArtifactPublicKey } from '@coherence/auth';
import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import costs from '@coherence/persisted-queries/costs.json' with { type: 'json' };
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger, type SecurityEvent, type SecurityEventWriter } from '@coherence/platform';
import { createPolicyEngine, policyBundleDir, type DecisionRecorder, type RecordedDecision } from '@coherence/policy';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSecurityMetrics } from '../createSecurityMetrics';
import { createPersistedOperations } from '../persisted/createPersistedOperations';
import { createAuthorizer, type Authorizer } from '../policy/createAuthorizer';
import { supergraphPath } from '../supergraph/subgraphs';
import type { GatewayStep, RequestTenant } from './GatewayStep';
import { testContext, testPrincipal } from './testContext';
import { usePolicy } from './usePolicy';

const logger = createLogger('test', 'silent');
const operations = createPersistedOperations(manifest, costs, apiSchemaFromSupergraph(readFileSync(supergraphPath, 'utf8')));
const operation = (name: string) => operations.get(manifest.operations.findLast((op) => op.name === name)!.id)!;
const tenantCoherence = operation('TenantCoherence');
const metrics = createSecurityMetrics(new Registry());
let authorize: Authorizer;
let step: GatewayStep;
/** The same step with its audit rows kept here (the writers' own tests write them to Postgres). */
let auditedStep: GatewayStep;
const decisions: RecordedDecision[] = [];
const events: SecurityEvent[] = [];

beforeAll(async () => {
  const policy = createPolicyEngine({ logger, publicKey: readArtifactPublicKey(devArtifactPublicKeyPath), allowRollback: false });
  expect((await policy.activate(policyBundleDir)).ok).toBe(true);
  authorize = createAuthorizer({ policy, metrics, region: 'us', pausedScopes: [] });
  step = usePolicy({ authorize, metrics });
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
    record: { residency, weight: 1, cacheTtlSeconds: null, suspended: false },
    residency: new Map([[tenantId, residency]]),
    suspended: [],
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
    context.tenant = { tenantId: madeUp, record: undefined, residency: new Map(), suspended: [] };
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

describe('usePolicy filing the decision', () => {
  /** The step over the real authorizer, with what it files written down instead of queued for Postgres. */
  function filingStep() {
    const filed: string[][] = [];
    const step = usePolicy({
      authorize: (request) => ({ ...authorize(request), file: (tenantIds) => void filed.push([...tenantIds]) }),
      metrics,
    });
    return { step, filed };
  }

  /** A request of an operator of tenant `ops` (comms:operate, residency `residency`) for `name` with `tenantIds` named. */
  function operatorRequest(name: string, tenantIds: string[], residency = ['us']) {
    return testContext({
      principal: { ...testPrincipal('ops'), scopes: ['comms:operate'], residency },
      operation: operation(name),
      variables: {},
      tenantIds,
      tenant: {
        tenantId: tenantIds[0] ?? 'ops',
        record: tenantIds.length > 0 ? { residency: 'us', weight: 1, cacheTtlSeconds: null, suspended: false } : undefined,
        residency: new Map(tenantIds.map((tenantId) => [tenantId, 'us'])),
        suspended: [],
      },
    });
  }

  it('files an allowed query when the request ends, under each tenant the subgraphs report touching', async () => {
    const { step, filed } = filingStep();
    const context = operatorRequest('Commands', []);
    expect(await step.onRequest!(context)).toBeUndefined();
    expect(filed).toEqual([]);
    context.tenantsTouched = new Set(['acme', 'globex']);
    step.onEnd!(context);
    step.onEnd!(context);
    expect(filed).toEqual([['acme', 'globex']]);
  });

  it('files under the tenants the variables name as well, each once', async () => {
    const { step, filed } = filingStep();
    const context = operatorRequest('Commands', ['acme']);
    await step.onRequest!(context);
    context.tenantsTouched = new Set(['acme']);
    step.onEnd!(context);
    expect(filed).toEqual([['acme']]);
  });

  it("files an allowed request that touched no tenant (nothing found, or refused after the policy) under the token's own", async () => {
    const { step, filed } = filingStep();
    const context = operatorRequest('RetryCommand', []);
    await step.onRequest!(context);
    step.onEnd!(context);
    expect(filed).toEqual([['ops']]);
  });

  it('files a denial at once, under the tenant the request acts for', async () => {
    const { step, filed } = filingStep();
    const context = operatorRequest('TroubleshootingQueue', [], ['eu']);
    expect(await step.onRequest!(context)).toMatchObject({ extensions: { reasonCode: 'RESIDENCY_VIOLATION' } });
    expect(filed).toEqual([['ops']]);
    step.onEnd!(context);
    expect(filed).toHaveLength(1);
  });

  it('files an allowed subscription at once (it has no end to wait for)', async () => {
    const { step, filed } = filingStep();
    const context = testContext({
      principal: testPrincipal('acme'),
      operation: operation('CoherenceEvents'),
      variables: { tenantId: 'acme' },
      tenantIds: ['acme'],
      tenant: {
        tenantId: 'acme',
        record: { residency: 'us', weight: 1, cacheTtlSeconds: null, suspended: false },
        residency: new Map([['acme', 'us']]),
        suspended: [],
      },
    });
    expect(await step.onRequest!(context)).toBeUndefined();
    expect(filed).toEqual([['acme']]);
  });
});
