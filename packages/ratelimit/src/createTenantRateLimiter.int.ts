import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTenantRateLimiter } from './createTenantRateLimiter';

let database: TestDatabase;
let redis: Redis;

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  redis = new Redis(services.redisUrl);
});

afterAll(async () => {
  redis?.disconnect();
  await database?.drop();
});

describe('createTenantRateLimiter against the real Redis', () => {
  const limiterFor = (rate: number, burst: number) =>
    createTenantRateLimiter({
      redis,
      keyPrefix: `${database.namespace}:rate:`,
      ratePerSecond: () => rate,
      burst: () => burst,
      metrics: new Registry(),
      onFallback: () => undefined,
      onRecovered: () => undefined,
    });

  it('allows a burst, then refuses with a Retry-After in whole seconds, without spending on refusals', async () => {
    const limiter = limiterFor(1, 3);
    const tenant = `${database.namespace}-burst`;
    const decisions = [];
    for (let i = 0; i < 5; i += 1) decisions.push(await limiter.consume(tenant));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false, false]);
    expect(decisions[3]).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('refills at the configured rate', async () => {
    const limiter = limiterFor(20, 1);
    const tenant = `${database.namespace}-refill`;
    expect((await limiter.consume(tenant)).allowed).toBe(true);
    expect((await limiter.consume(tenant)).allowed).toBe(false);
    await sleep(60);
    expect((await limiter.consume(tenant)).allowed).toBe(true);
  });

  it('keeps tenants apart', async () => {
    const limiter = limiterFor(1, 1);
    expect((await limiter.consume(`${database.namespace}-a`)).allowed).toBe(true);
    expect((await limiter.consume(`${database.namespace}-a`)).allowed).toBe(false);
    expect((await limiter.consume(`${database.namespace}-b`)).allowed).toBe(true);
  });

  it('charges a cost, and never allows a cost above the burst', async () => {
    const limiter = limiterFor(10, 100);
    const tenant = `${database.namespace}-cost`;
    expect((await limiter.consume(tenant, 60)).allowed).toBe(true);
    expect(await limiter.consume(tenant, 60)).toEqual({ allowed: false, retryAfterSeconds: 2 });
    expect((await limiter.consume(tenant, 40)).allowed).toBe(true);
    expect((await limiter.consume(`${database.namespace}-huge`, 101)).allowed).toBe(false);
  });

  it('takes per-call limits over the options (shares that change at run time)', async () => {
    const limiter = limiterFor(1, 1);
    const tenant = `${database.namespace}-override`;
    const limits = { ratePerSecond: 10, burst: 4 };
    const decisions = [];
    for (let i = 0; i < 5; i += 1) decisions.push(await limiter.consume(tenant, 1, limits));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, false]);
    // Halving the rate halves what the same time buys: after 100 ms one unit at 10/s, none at 5/s.
    await sleep(110);
    expect((await limiter.consume(tenant, 1, { ratePerSecond: 5, burst: 2 })).allowed).toBe(false);
    expect((await limiter.consume(tenant, 1, limits)).allowed).toBe(true);
  });

  it('is atomic under concurrency: exactly the burst is granted to 200 parallel callers', async () => {
    const limiter = limiterFor(0.001, 50);
    const tenant = `${database.namespace}-race`;
    const decisions = await Promise.all(Array.from({ length: 200 }, () => limiter.consume(tenant)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(50);
  });

  it('decides the spends asked for while a call is in flight together, each in its turn, in fewer script calls', async () => {
    // A connection of its own, to count what this limiter sends (other tests share the server).
    const own = new Redis(inject('services').redisUrl);
    const sent: string[] = [];
    const send = own.sendCommand.bind(own);
    own.sendCommand = (command, stream) => {
      sent.push(command.name);
      return send(command, stream);
    };
    const limiter = createTenantRateLimiter({
      redis: own,
      keyPrefix: `${database.namespace}:batched:`,
      ratePerSecond: () => 0.001,
      burst: () => 3,
      metrics: new Registry(),
      onFallback: () => undefined,
      onRecovered: () => undefined,
    });
    const tenants = Array.from({ length: 10 }, (_, i) => `t${i}`);
    // Each tenant asked 5 times, interleaved: its first 3 spends fit its burst, the 4th and 5th do not.
    const decisions = await Promise.all(Array.from({ length: 50 }, (_, i) => limiter.consume(tenants[i % 10]!)));
    own.disconnect();
    expect(decisions.map((d) => d.allowed)).toEqual(Array.from({ length: 50 }, (_, i) => i < 30));
    const scriptCalls = sent.filter((name) => name === 'evalsha' || name === 'eval').length;
    expect(scriptCalls).toBeGreaterThan(0);
    expect(scriptCalls).toBeLessThan(10);
  });

  it('spends on several buckets only when each has room: a refusal by one charges none, and waits for the longest', async () => {
    const limiter = limiterFor(1, 1);
    const [caller, tenant] = [`${database.namespace}-caller`, `${database.namespace}-tenant`];
    const both = () =>
      limiter.consumeAll([
        { key: caller, ratePerSecond: 1, burst: 2, cost: 1 },
        { key: tenant, ratePerSecond: 0.5, burst: 4, cost: 1 },
      ]);
    expect(await both()).toEqual({ allowed: true, retryAfterSeconds: 0, limited: [] });
    expect(await both()).toEqual({ allowed: true, retryAfterSeconds: 0, limited: [] });
    expect(await both()).toEqual({ allowed: false, retryAfterSeconds: 1, limited: [0] });
    // The refusal left the tenant's last 2 units where they were.
    const limits = { ratePerSecond: 0.5, burst: 4 };
    expect([await limiter.consume(tenant, 1, limits), await limiter.consume(tenant, 1, limits)].map((d) => d.allowed)).toEqual([
      true,
      true,
    ]);
    // Both empty now: the tenant refills one unit in 2 s, the caller in 1 s.
    expect(await both()).toEqual({ allowed: false, retryAfterSeconds: 2, limited: [0, 1] });
  });

  it('is atomic over several buckets under concurrency: one shared bucket grants its burst, the others are charged only then', async () => {
    const limiter = limiterFor(0.001, 1);
    const shared = `${database.namespace}-shared`;
    const own = (i: number) => `${database.namespace}-own-${i}`;
    const limits = { ratePerSecond: 0.001, burst: 1 };
    const decisions = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        limiter.consumeAll([
          { key: shared, ratePerSecond: 0.001, burst: 50, cost: 1 },
          { key: own(i), ...limits, cost: 1 },
        ]),
      ),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(50);
    const refused = decisions.flatMap((d, i) => (d.allowed ? [] : [i]));
    // A bucket of one unit: spent for the 50 admitted, untouched for every refused call.
    for (const i of refused) expect((await limiter.consume(own(i), 1, limits)).allowed).toBe(true);
    expect((await limiter.consume(own(decisions.findIndex((d) => d.allowed)), 1, limits)).allowed).toBe(false);
  });

  it('enforces the same share in process while Redis fails, switching once, counted', async () => {
    // Nothing listens there and nothing is queued: every call fails at once, as with Redis down.
    const down = new Redis(`redis://127.0.0.1:${await freePort()}`, { lazyConnect: true, enableOfflineQueue: false });
    const metrics = new Registry();
    const fallbacks: unknown[] = [];
    const limiter = createTenantRateLimiter({
      redis: down,
      keyPrefix: 'down:',
      ratePerSecond: () => 1,
      burst: () => 3,
      metrics,
      onFallback: (error) => fallbacks.push(error),
      onRecovered: () => undefined,
    });
    const decisions = [];
    for (let i = 0; i < 5; i += 1) decisions.push(await limiter.consume('tenant'));
    down.disconnect();
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false, false]);
    expect(decisions[3]).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(fallbacks).toHaveLength(1);
    const counted = (await metrics.getSingleMetric('ratelimit_fallback_decisions_total')!.get()).values;
    expect(counted.map((v) => [v.labels, v.value])).toEqual([
      [{ outcome: 'allowed' }, 3],
      [{ outcome: 'limited' }, 2],
    ]);
    expect((await metrics.getSingleMetric('ratelimit_redis_available')!.get()).values[0]).toMatchObject({
      labels: {},
      value: 0,
    });
  });

  it('spends on several buckets all or nothing in process too, while Redis fails', async () => {
    const down = new Redis(`redis://127.0.0.1:${await freePort()}`, { lazyConnect: true, enableOfflineQueue: false });
    const limiter = createTenantRateLimiter({
      redis: down,
      keyPrefix: 'down:',
      ratePerSecond: () => 1,
      burst: () => 1,
      metrics: new Registry(),
      onFallback: () => undefined,
      onRecovered: () => undefined,
    });
    const both = () =>
      limiter.consumeAll([
        { key: 'caller', ratePerSecond: 1, burst: 1, cost: 1 },
        { key: 'tenant', ratePerSecond: 1, burst: 3, cost: 1 },
      ]);
    const decisions = [await both(), await both()];
    const tenantAlone = () => limiter.consume('tenant', 1, { ratePerSecond: 1, burst: 3 });
    const afterwards = [await tenantAlone(), await tenantAlone()];
    down.disconnect();
    expect(decisions).toEqual([
      { allowed: true, retryAfterSeconds: 0, limited: [] },
      { allowed: false, retryAfterSeconds: 1, limited: [0] },
    ]);
    // The refusal by the caller's bucket did not charge the tenant's: 2 of its 3 units are still there.
    expect(afterwards.map((d) => d.allowed)).toEqual([true, true]);
  });
});
