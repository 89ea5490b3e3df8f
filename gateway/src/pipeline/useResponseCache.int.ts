import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import costs from '@coherence/persisted-queries/costs.json' with { type: 'json' };
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { canonicalJson, createLogger } from '@coherence/platform';
import { Redis } from 'ioredis';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createGatewayRedis, type GatewayRedis } from '../cache/createGatewayRedis';
import { createTenantCoherenceCache, type TenantCoherenceCache } from '../cache/createTenantCoherenceCache';
import { JSON_CONTENT_TYPE, serializeResult, type ExecutedOperation, type GatewayResponse } from '../gatewayResponse';
import { createPersistedOperations } from '../persisted/createPersistedOperations';
import { supergraphPath } from '../supergraph/subgraphs';
import type { TenantRecord } from '@coherence/policy';
import type { AdmittedContext, GatewayStep } from './GatewayStep';
import { testContext, testPrincipal } from './testContext';
import { useResponseCache } from './useResponseCache';

/**
 * The response-cache step against the real Redis: what it answers from the
 * cache, what it runs, and the TTL the tenant's row gives an entry. Keys and
 * the invalidation channel carry this file's own namespace.
 */
const operations = createPersistedOperations(manifest, costs, apiSchemaFromSupergraph(readFileSync(supergraphPath, 'utf8')));
const operation = (name: string) => operations.get(manifest.operations.findLast((op) => op.name === name)!.id)!;
const logger = createLogger('test', 'silent');
const namespace = `t${randomUUID().replaceAll('-', '').slice(0, 10)}`;
const keyPrefix = `${namespace}:gateway:`;
/** The gateway's TTL for a tenant whose row sets none (GATEWAY_CACHE_TTL_SECONDS); no jitter, so a key's TTL is exact. */
const DEFAULT_TTL_SECONDS = 60;

let gatewayRedis: GatewayRedis;
let cache: TenantCoherenceCache;
let inspect: Redis;
let step: GatewayStep;

beforeAll(async () => {
  const { redisUrl } = inject('services');
  const metrics = new Registry();
  gatewayRedis = createGatewayRedis({ url: redisUrl, commandTimeoutMs: 1_000, logger, metrics });
  await gatewayRedis.connected(10_000);
  cache = createTenantCoherenceCache({
    enabled: true,
    gatewayRedis,
    redisUrl,
    channel: `${namespace}:coherence.changed`,
    keyPrefix,
    defaultTtlSeconds: DEFAULT_TTL_SECONDS,
    ttlJitter: 0,
    lockWaitMs: 2_000,
    logger,
    metrics,
  });
  inspect = new Redis(redisUrl);
  step = useResponseCache({ cache });
});

afterAll(async () => {
  const keys = inspect ? await inspect.keys(`${keyPrefix}*`) : [];
  if (keys.length > 0) await inspect.del(...keys);
  inspect?.disconnect();
  await cache?.close();
  await gatewayRedis?.close();
});

/** A request every earlier step let through, reading `tenantId` with `name`; `record` is its `tenants` row (undefined: unregistered). */
function admitted(name: string, tenantId: string, record: TenantRecord | undefined, variables: Record<string, unknown> = { tenantId }) {
  return testContext({
    principal: testPrincipal(tenantId),
    operation: operation(name),
    variables,
    tenantIds: [tenantId],
    tenant: { tenantId, record, residency: new Map([[tenantId, 'us']]), suspended: [] },
  }) as AdmittedContext;
}

const row = (cacheTtlSeconds: number | null): TenantRecord => ({ residency: 'us', weight: 1, cacheTtlSeconds, suspended: false });

/** Execution as Apollo would answer: a counter of the calls, and a new score each time so a stored answer is told from a fresh one. */
function countingExecute(tenantId: string, answer?: (call: number) => ExecutedOperation['result']) {
  const execute = {
    calls: 0,
    run: async (): Promise<ExecutedOperation> => {
      execute.calls += 1;
      const result = answer?.(execute.calls) ?? {
        data: { tenantCoherence: { tenantId, score: execute.calls / 10, status: 'HEALTHY', updatedAt: new Date().toISOString() } },
      };
      return { status: 200, headers: [['content-type', JSON_CONTENT_TYPE]], result };
    },
  };
  return execute;
}

const header = (response: GatewayResponse, name: string) => response.headers.find(([key]) => key === name)?.[1];

/** The entry key createResponseCache writes for a read of `tenantId` by `operationId` with these variables. */
const entryKey = (tenantId: string, operationId: string, variables: Record<string, unknown>) =>
  `${keyPrefix}cache:entry:${tenantId}:${operationId}:${createHash('sha256').update(canonicalJson(variables)).digest('base64url')}`;

const tenant = (name: string) => `${namespace}-${name}`;

describe('useResponseCache against the real Redis', () => {
  it('runs a tenantCoherence read on a miss, then answers it from Redis without running it', async () => {
    const tenantId = tenant('hit');
    const execute = countingExecute(tenantId);

    const first = await step.onExecute!(admitted('TenantCoherence', tenantId, row(null)), execute.run);
    expect(header(first, 'x-cache')).toBe('MISS');
    expect(execute.calls).toBe(1);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({ data: { tenantCoherence: { tenantId, score: 0.1 } } });

    const second = await step.onExecute!(admitted('TenantCoherence', tenantId, row(null)), execute.run);
    expect(header(second, 'x-cache')).toBe('HIT');
    expect(execute.calls).toBe(1);
    expect(second).toMatchObject({ status: 200, body: first.body });
    expect(header(second, 'content-type')).toBe(JSON_CONTENT_TYPE);
  });

  it("stores the entry for the TTL of the tenant's row, or for the default TTL when the row sets none or there is no row", async () => {
    const cases = [
      { name: 'ttl-own', record: row(7), ttlSeconds: 7 },
      { name: 'ttl-null', record: row(null), ttlSeconds: DEFAULT_TTL_SECONDS },
      { name: 'ttl-unregistered', record: undefined, ttlSeconds: DEFAULT_TTL_SECONDS },
    ];
    for (const { name, record, ttlSeconds } of cases) {
      const tenantId = tenant(name);
      const response = await step.onExecute!(admitted('TenantCoherence', tenantId, record), countingExecute(tenantId).run);
      expect(header(response, 'x-cache'), name).toBe('MISS');
      const key = entryKey(tenantId, operation('TenantCoherence').id, { tenantId });
      // The only entry of the tenant is the one at that key.
      expect(await inspect.keys(`${keyPrefix}cache:entry:${tenantId}:*`), name).toEqual([key]);
      const pttl = await inspect.pttl(key);
      expect(pttl, name).toBeLessThanOrEqual(ttlSeconds * 1_000);
      expect(pttl, name).toBeGreaterThan(ttlSeconds * 1_000 - 2_000);
    }
  });

  it.each([
    ['Signals', 'a read of another root field', { tenantId: 'x', first: 10 }],
    ['RetryCommand', 'a mutation', { id: 'command-1', reason: 'retry it' }],
  ])('runs %s (%s) every time and stores nothing', async (name, _kind, variables) => {
    const tenantId = tenant(`uncached-${name}`);
    const execute = countingExecute(tenantId, () => ({ data: { ok: true } }));
    const context = () => admitted(name, tenantId, row(300), { ...variables, tenantId });
    const first = await step.onExecute!(context(), execute.run);
    const second = await step.onExecute!(context(), execute.run);
    expect(execute.calls).toBe(2);
    expect(header(first, 'x-cache')).toBeUndefined();
    expect(header(second, 'x-cache')).toBeUndefined();
    expect(second.body).toBe(serializeResult({ data: { ok: true } }));
    expect(await inspect.keys(`${keyPrefix}cache:entry:${tenantId}:*`)).toEqual([]);
  });

  it('does not store an answer with errors: the next request runs again, and a clean answer is then stored', async () => {
    const tenantId = tenant('errors');
    const execute = countingExecute(tenantId, (call) =>
      call <= 2
        ? { errors: [{ message: 'coherence subgraph unavailable', extensions: { code: 'SUBGRAPH_UNAVAILABLE' } }], data: null }
        : { data: { tenantCoherence: { tenantId, score: 0.5, status: 'HEALTHY', updatedAt: new Date().toISOString() } } },
    );
    const context = () => admitted('TenantCoherence', tenantId, row(300));

    const failed = await step.onExecute!(context(), execute.run);
    expect(header(failed, 'x-cache')).toBe('MISS');
    expect(JSON.parse(failed.body)).toMatchObject({ errors: [{ message: 'coherence subgraph unavailable' }] });
    expect(await inspect.keys(`${keyPrefix}cache:entry:${tenantId}:*`)).toEqual([]);

    const again = await step.onExecute!(context(), execute.run);
    expect(header(again, 'x-cache')).toBe('MISS');
    expect(execute.calls).toBe(2);

    const clean = await step.onExecute!(context(), execute.run);
    expect(header(clean, 'x-cache')).toBe('MISS');
    expect(execute.calls).toBe(3);
    const cached = await step.onExecute!(context(), execute.run);
    expect(header(cached, 'x-cache')).toBe('HIT');
    expect(cached.body).toBe(clean.body);
    expect(execute.calls).toBe(3);
  });
});
