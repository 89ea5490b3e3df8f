import { createLogger } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createGatewayRedis, type GatewayRedis } from './createGatewayRedis';
import { createResponseCache, type CacheRequest } from './createResponseCache';

/** The cache against the real Redis; two cache objects with their own connections stand for two gateway instances. */
let database: TestDatabase;
let redisUrl: string;
let inspect: Redis;
const connections: GatewayRedis[] = [];
const logger = createLogger('test', 'silent');

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  redisUrl = services.redisUrl;
  inspect = new Redis(redisUrl);
});

afterAll(async () => {
  await Promise.all(connections.map((connection) => connection.close()));
  inspect?.disconnect();
  await database?.drop();
});

async function instance(options: { ttlJitter?: number; lockWaitMs?: number } = {}) {
  const metrics = new Registry();
  const gatewayRedis = createGatewayRedis({ url: redisUrl, commandTimeoutMs: 1_000, logger, metrics });
  connections.push(gatewayRedis);
  await gatewayRedis.connected(10_000);
  const cache = createResponseCache({
    gatewayRedis,
    keyPrefix: `${database.namespace}:`,
    ttlJitter: options.ttlJitter ?? 0.1,
    lockWaitMs: options.lockWaitMs ?? 2_000,
    logger,
    metrics,
  });
  return { cache, metrics };
}

let sequence = 0;
const requestFor = (tenant: string, ttlSeconds = 30): CacheRequest => ({
  tenantId: `${database.namespace}-${tenant}`,
  operationId: 'op-1',
  operationName: 'TenantCoherence',
  variables: { tenantId: `${database.namespace}-${tenant}` },
  ttlSeconds,
});

/** A loader that counts its calls and answers a new body each time, after `delayMs`. */
function countingLoader(delayMs = 0, cacheable = true) {
  const loader = {
    calls: 0,
    load: async () => {
      loader.calls += 1;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      sequence += 1;
      return { body: `{"data":{"n":${sequence}}}`, cacheable };
    },
  };
  return loader;
}

async function counterValue(metrics: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
  return values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((sum, v) => sum + v.value, 0);
}

describe('createResponseCache against the real Redis', () => {
  it('loads on a miss, then answers from Redis with a TTL inside the jitter band', async () => {
    const { cache, metrics } = await instance({ ttlJitter: 0.2 });
    const loader = countingLoader();
    const request = requestFor('ttl', 100);
    const first = await cache.getOrLoad(request, loader.load);
    const second = await cache.getOrLoad(request, loader.load);
    expect(first.outcome).toBe('miss');
    expect(second).toEqual({ outcome: 'hit', body: first.body });
    expect(loader.calls).toBe(1);
    const [key] = await inspect.keys(`${database.namespace}:cache:entry:${request.tenantId}:*`);
    const pttl = await inspect.pttl(key!);
    expect(pttl).toBeGreaterThan(79_000);
    expect(pttl).toBeLessThanOrEqual(120_000);
    expect(await counterValue(metrics, 'gateway_cache_hit_ratio', { operation: 'TenantCoherence' })).toBe(0.5);
  });

  it('spreads the TTLs of entries written together', async () => {
    const { cache } = await instance({ ttlJitter: 0.2 });
    for (let i = 0; i < 20; i += 1) await cache.getOrLoad(requestFor(`spread-${i}`, 100), countingLoader().load);
    const keys = await inspect.keys(`${database.namespace}:cache:entry:${database.namespace}-spread-*`);
    const ttls = await Promise.all(keys.map((key) => inspect.pttl(key)));
    expect(keys).toHaveLength(20);
    expect(Math.max(...ttls) - Math.min(...ttls)).toBeGreaterThan(5_000);
  });

  it('keys by variables too, whatever their key order', async () => {
    const { cache } = await instance();
    const loader = countingLoader();
    const base = requestFor('vars');
    await cache.getOrLoad({ ...base, variables: { a: 1, b: { c: 2, d: 3 } } }, loader.load);
    expect((await cache.getOrLoad({ ...base, variables: { b: { d: 3, c: 2 }, a: 1 } }, loader.load)).outcome).toBe('hit');
    expect((await cache.getOrLoad({ ...base, variables: { a: 2, b: { c: 2, d: 3 } } }, loader.load)).outcome).toBe('miss');
    expect(loader.calls).toBe(2);
  });

  it('runs one load per key for 50 concurrent misses spread over two instances', async () => {
    const a = await instance();
    const b = await instance();
    const loader = countingLoader(150);
    const request = requestFor('flight');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).cache.getOrLoad(request, loader.load)));
    expect(loader.calls).toBe(1);
    expect(results.filter((r) => r.outcome === 'miss')).toHaveLength(1);
    expect(new Set(results.map((r) => r.body)).size).toBe(1);
  });

  it('loads without waiting for an instance that holds the lock but stores nothing', async () => {
    const a = await instance();
    const b = await instance({ lockWaitMs: 3_000 });
    const request = requestFor('uncacheable');
    const failing = countingLoader(200, false);
    const started = Date.now();
    const [first, second] = await Promise.all([
      a.cache.getOrLoad(request, failing.load),
      new Promise((resolve) => setTimeout(resolve, 50)).then(() => b.cache.getOrLoad(request, failing.load)),
    ]);
    expect([first.outcome, second.outcome]).toEqual(['miss', 'miss']);
    expect(failing.calls).toBe(2);
    // b loaded once a's lock was gone, not after its whole wait.
    expect(Date.now() - started).toBeLessThan(1_500);
    expect((await a.cache.getOrLoad(request, failing.load)).outcome).toBe('miss');
  });

  it('invalidates one tenant, or everything', async () => {
    const { cache } = await instance();
    const loader = countingLoader();
    const [one, two] = [requestFor('inv-1'), requestFor('inv-2')];
    await cache.getOrLoad(one, loader.load);
    await cache.getOrLoad(two, loader.load);
    await cache.invalidate(one.tenantId);
    expect((await cache.getOrLoad(one, loader.load)).outcome).toBe('miss');
    expect((await cache.getOrLoad(two, loader.load)).outcome).toBe('hit');
    await cache.invalidateAll();
    expect((await cache.getOrLoad(one, loader.load)).outcome).toBe('miss');
    expect((await cache.getOrLoad(two, loader.load)).outcome).toBe('miss');
  });

  it('does not store an answer whose load overlapped an invalidation (it may predate the change)', async () => {
    const { cache } = await instance();
    const request = requestFor('race');
    let release: () => void = () => undefined;
    const slow = cache.getOrLoad(request, async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return { body: '{"data":{"stale":true}}', cacheable: true };
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await cache.invalidate(request.tenantId);
    release();
    expect((await slow).outcome).toBe('miss');
    const fresh = await cache.getOrLoad(request, async () => ({ body: '{"data":{"stale":false}}', cacheable: true }));
    expect(fresh).toMatchObject({ outcome: 'miss', body: '{"data":{"stale":false}}' });
  });
});
