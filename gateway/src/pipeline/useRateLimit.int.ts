import { SCOPES } from '@coherence/auth';
import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import costs from '@coherence/persisted-queries/costs.json' with { type: 'json' };
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger } from '@coherence/platform';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createGatewayRedis } from '../cache/createGatewayRedis';
import { createPersistedOperations } from '../persisted/createPersistedOperations';
import { createGatewayLimiter } from '../ratelimit/createGatewayLimiter';
import { supergraphPath } from '../supergraph/subgraphs';
import type { RequestTenant } from './GatewayStep';
import { testContext, testPrincipal } from './testContext';
import { useRateLimit } from './useRateLimit';

/**
 * The limiter step against the real Redis: the tenant's share comes from the
 * tenant row the context carries, the caller's from the token, the cost from
 * the persisted operation (costs.json) and the request's variables.
 */
const metrics = new Registry();
const gatewayRedis = createGatewayRedis({
  url: inject('services').redisUrl,
  commandTimeoutMs: 1_000,
  logger: createLogger('test', 'silent'),
  metrics,
});
// 1 token per second for weight 1, a burst of 1 s: a caller from another tenant gets 0.5/s and a burst of 1.
const limiter = createGatewayLimiter({
  gatewayRedis,
  keyPrefix: `rate-step-${randomUUID()}:`,
  ratePerSecond: 1,
  burstSeconds: 1,
  maxInFlight: 100,
  maxLoopDelayMs: 10_000,
  metrics,
});
const step = useRateLimit({ limiter });
const operations = createPersistedOperations(manifest, costs, apiSchemaFromSupergraph(readFileSync(supergraphPath, 'utf8')));
const operationNamed = (name: string) => operations.get(manifest.operations.findLast((op) => op.name === name)!.id)!;
/** An operator from the `ops` tenant, who may read any tenant. */
const operator = { ...testPrincipal('ops'), subject: 'oncall', scopes: [SCOPES.readAny] };

beforeAll(() => gatewayRedis.connected(5_000));

afterAll(async () => {
  limiter.close();
  await gatewayRedis.close();
});

interface Request {
  principal?: typeof operator;
  operation?: string;
  variables?: Record<string, unknown>;
}

const requestOf = (tenantId: string, weight: number | undefined, request: Request = {}) => {
  const tenant: RequestTenant = {
    tenantId,
    record: weight === undefined ? undefined : { residency: 'us', weight, cacheTtlSeconds: null, suspended: false },
    residency: new Map(),
    suspended: [],
  };
  return testContext({
    principal: request.principal ?? testPrincipal(tenantId),
    operation: operationNamed(request.operation ?? 'TenantCoherence'),
    variables: request.variables ?? { tenantId },
    tenantIds: [tenantId],
    tenant,
  });
};

async function admittedOf(tenantId: string, weight: number | undefined, attempts: number, request: Request = {}) {
  let admitted = 0;
  for (let i = 0; i < attempts; i += 1) if ((await step.onRequest!(requestOf(tenantId, weight, request))) === undefined) admitted += 1;
  return admitted;
}

describe('useRateLimit', () => {
  it('refuses over the share with RATE_LIMITED and when to retry', async () => {
    expect(await admittedOf('unregistered', undefined, 1)).toBe(1);
    expect(await step.onRequest!(requestOf('unregistered', undefined))).toEqual({
      code: 'RATE_LIMITED',
      message: "over the caller's and the tenant's request share; retry in 1 s",
      extensions: { retryAfterSeconds: 1 },
    });
  });

  it("sizes the share by the weight of the tenant's row in the context", async () => {
    expect(await admittedOf('heavy', 4, 10)).toBe(4);
  });

  // Issue 13, item 4: the limiter charged the target tenant only, so an operator token could drain any tenant's share.
  it('holds an operator to its own share: it cannot drain the tenant it reads, whose own token still gets through, and what it is refused charges nobody', async () => {
    expect(await admittedOf('target', 4, 10, { principal: operator })).toBe(1);
    expect(await step.onRequest!(requestOf('target', 4, { principal: operator }))).toEqual({
      code: 'RATE_LIMITED',
      message: "over the caller's request share; retry in 2 s",
      extensions: { retryAfterSeconds: 2 },
    });
    // The operator's refusals spent nothing of the tenant's 4: 3 are left for its own token.
    expect(await admittedOf('target', 4, 10)).toBe(3);
    // The operator's share is its own wherever it reads: it has nothing left for another tenant either.
    expect(await admittedOf('elsewhere', 4, 1, { principal: operator })).toBe(0);
  });

  it("spends the operation's declared cost, scaled by `first`, of both shares", async () => {
    // Signals costs 1 per page of 50: `first: 250` is 5 of the tenant's 10.
    const page = { operation: 'Signals', variables: { tenantId: 'reader', first: 250 } };
    expect(await admittedOf('reader', 10, 3, page)).toBe(2);
    expect(await step.onRequest!(requestOf('reader', 10))).toMatchObject({ code: 'RATE_LIMITED' });
    // Without `first`, one page: 1.
    expect(await admittedOf('browser', 3, 5, { operation: 'Signals', variables: { tenantId: 'browser' } })).toBe(3);
  });
});
