import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createGatewayRedis, type GatewayRedis } from '../cache/createGatewayRedis';
import { createGatewayLimiter, type RateLimitRequest } from './createGatewayLimiter';
import { createTenantDirectory } from '@coherence/policy';

/** The gateway limiter against the real Redis and the real `tenants` table. */
let database: TestDatabase;
let appPool: PgPool;
let adminPool: PgPool;
const closers: (() => unknown)[] = [];
const logger = createLogger('test', 'silent');

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  appPool = createPgPool(database.urls.gateway);
  adminPool = createPgPool(database.adminUrl);
});

afterAll(async () => {
  for (const close of closers) await close();
  await appPool?.end();
  await adminPool?.end();
  await database?.drop();
});

async function limiterOn(redisUrl: string, options: { maxInFlight?: number; connectMs?: number } = {}) {
  const metrics = new Registry();
  const gatewayRedis: GatewayRedis = createGatewayRedis({ url: redisUrl, commandTimeoutMs: 1_000, logger, metrics });
  await gatewayRedis.connected(options.connectMs ?? 5_000);
  const limiter = createGatewayLimiter({
    gatewayRedis,
    keyPrefix: `${database.namespace}:`,
    ratePerSecond: 10,
    burstSeconds: 1,
    maxInFlight: options.maxInFlight ?? 100,
    maxLoopDelayMs: 10_000,
    metrics,
  });
  closers.push(
    () => limiter.close(),
    () => gatewayRedis.close(),
  );
  // The weight comes from the real `tenants` row, as the pipeline's tenant step hands it over.
  const tenants = createTenantDirectory({ pool: appPool, ttlMs: 60_000, negativeTtlMs: 60_000 });
  /** A request for `tenantId` at `cost`: by its own token, or by `operator`, a caller from elsewhere. */
  const admit = async (tenantId: string, { operator, cost = 1 }: { operator?: string; cost?: number } = {}) => {
    const record = (await tenants.recordsOf([tenantId])).get(tenantId);
    const request: RateLimitRequest = {
      tenant: { id: tenantId, weight: record?.weight ?? 1, registered: record !== undefined },
      caller: operator ? { id: operator, ownTenant: false } : { id: `${tenantId}-user`, ownTenant: true },
      cost,
    };
    return limiter.admit(request);
  };
  return { limiter: { ...limiter, admit }, metrics };
}

async function registerTenant(name: string, weight: number): Promise<string> {
  const tenantId = `${database.namespace}-${name}`;
  await adminPool.query(`INSERT INTO tenants (tenant_id, residency, weight) VALUES ($1, 'us', $2)`, [tenantId, weight]);
  return tenantId;
}

type TestLimiter = Awaited<ReturnType<typeof limiterOn>>['limiter'];

async function allowedOf(limiter: TestLimiter, tenantId: string, attempts: number, operator?: string) {
  let allowed = 0;
  for (let i = 0; i < attempts; i += 1) if ((await limiter.admit(tenantId, { operator })).allowed) allowed += 1;
  return allowed;
}

const operatorId = () => `${database.namespace}-operator-${Math.random()}`;

/** Issue 13, item 4: a caller from elsewhere has its own bucket, and cannot spend a tenant's share beyond it. */
async function expectOperatorHeldToItsShare(limiter: TestLimiter, tenantId: string) {
  const operator = operatorId();
  // Rate 10/s, burst 1 s: the tenant's bucket holds 10, the operator's 5 (half the rate of weight 1).
  const operatorAllowed = await allowedOf(limiter, tenantId, 30, operator);
  expect(operatorAllowed).toBeGreaterThanOrEqual(5);
  expect(operatorAllowed).toBeLessThan(7);
  expect(await limiter.admit(tenantId, { operator })).toMatchObject({ allowed: false, limitedBy: ['caller'] });
  // The operator's 25 refusals charged the tenant nothing: its own token still has what the operator left.
  const ownAllowed = await allowedOf(limiter, tenantId, 30);
  expect(operatorAllowed + ownAllowed).toBeGreaterThanOrEqual(10);
  expect(operatorAllowed + ownAllowed).toBeLessThan(14);
  expect(await limiter.admit(tenantId)).toMatchObject({ allowed: false, limitedBy: ['tenant'] });
}

describe('createGatewayLimiter', () => {
  it("sizes each tenant's share by its weight", async () => {
    const { limiter } = await limiterOn(inject('services').redisUrl);
    const light = await registerTenant('light', 1);
    const heavy = await registerTenant('heavy', 3);
    // Burst = 1 s of rate: 10 for weight 1, 30 for weight 3 (plus what refills during the loop).
    const lightAllowed = await allowedOf(limiter, light, 60);
    expect(await limiter.admit(light)).toEqual({ allowed: false, retryAfterSeconds: 1, limitedBy: ['caller', 'tenant'] });
    const heavyAllowed = await allowedOf(limiter, heavy, 60);
    expect(lightAllowed).toBeGreaterThanOrEqual(10);
    expect(lightAllowed).toBeLessThan(14);
    expect(heavyAllowed).toBeGreaterThanOrEqual(30);
    expect(heavyAllowed).toBeLessThan(40);
  });

  it('shrinks every share by the same factor while the gateway is saturated, keeping the weights', async () => {
    const { limiter } = await limiterOn(inject('services').redisUrl, { maxInFlight: 1 });
    const light = await registerTenant('light-busy', 1);
    const heavy = await registerTenant('heavy-busy', 3);
    // Four requests in flight against a bound of one: every rate is a quarter.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const inFlight = Array.from({ length: 4 }, () => limiter.track(() => held));
    expect(limiter.shareFactor()).toBe(0.25);
    const [lightAllowed, heavyAllowed] = [await allowedOf(limiter, light, 40), await allowedOf(limiter, heavy, 40)];
    release();
    await Promise.all(inFlight);
    // Burst 2.5 for weight 1 and 7.5 for weight 3, instead of 10 and 30.
    expect(lightAllowed).toBeGreaterThanOrEqual(2);
    expect(lightAllowed).toBeLessThanOrEqual(4);
    expect(heavyAllowed).toBeGreaterThanOrEqual(7);
    expect(heavyAllowed).toBeLessThanOrEqual(10);
    expect(limiter.shareFactor()).toBe(1);
  });

  it("holds a caller from another tenant to its own share of any tenant's, and charges nothing it refuses", async () => {
    const { limiter, metrics } = await limiterOn(inject('services').redisUrl);
    await expectOperatorHeldToItsShare(limiter, await registerTenant('drained', 1));
    // One operator bucket across tenants: spent on one, it has nothing left for the next.
    const operator = operatorId();
    expect(await allowedOf(limiter, await registerTenant('first-target', 1), 10, operator)).toBeLessThan(7);
    expect(await limiter.admit(await registerTenant('next-target', 1), { operator })).toMatchObject({
      allowed: false,
      limitedBy: ['caller'],
    });
    // Every refusal counted once, under the bucket that had no room.
    const limited = (await metrics.getSingleMetric('gateway_ratelimit_limited_total')!.get()).values;
    const decisions = (await metrics.getSingleMetric('gateway_ratelimit_decisions_total')!.get()).values;
    expect(limited.map((v) => v.labels['bucket']).sort()).toEqual(['caller', 'tenant']);
    expect(limited.reduce((sum, v) => sum + v.value, 0)).toBe(decisions.find((v) => v.labels['outcome'] === 'limited')?.value);
  });

  it("spends a request's cost of both buckets, and a cost above a bucket's burst as the whole burst", async () => {
    const { limiter, metrics } = await limiterOn(inject('services').redisUrl);
    const tenant = await registerTenant('costly', 1);
    // The tenant's bucket holds 10: a cost of 4 twice, then only 2 are left.
    expect((await limiter.admit(tenant, { cost: 4 })).allowed).toBe(true);
    expect((await limiter.admit(tenant, { cost: 4 })).allowed).toBe(true);
    expect(await limiter.admit(tenant, { cost: 4 })).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    expect((await limiter.admit(tenant, { cost: 2 })).allowed).toBe(true);
    // The cost model counts what was admitted, not what was refused.
    const units = (await metrics.getSingleMetric('gateway_tenant_request_units_total')!.get()).values;
    expect(units.find((v) => v.labels['tenant'] === tenant)?.value).toBe(10);
    // 25 > the operator's burst of 5: it needs the bucket full and empties it, and is allowed once there is room in both.
    const roomy = await registerTenant('roomy', 3);
    const operator = operatorId();
    expect((await limiter.admit(roomy, { operator, cost: 25 })).allowed).toBe(true);
    expect(await limiter.admit(roomy, { operator })).toMatchObject({ allowed: false, limitedBy: ['caller'] });
    // The tenant was charged 25 of its 30, whatever the operator's burst: 5 left (and what refills at 30/s meanwhile).
    const left = await allowedOf(limiter, roomy, 10);
    expect(left).toBeGreaterThanOrEqual(5);
    expect(left).toBeLessThan(9);
  });

  it('enforces the same share in process when Redis cannot be reached, counted', async () => {
    const { limiter, metrics } = await limiterOn(`redis://127.0.0.1:${await freePort()}`, { connectMs: 100 });
    const tenant = await registerTenant('no-redis', 1);
    const allowed = await allowedOf(limiter, tenant, 30);
    // Burst = 1 s of rate, as with Redis (plus what refills during the loop).
    expect(allowed).toBeGreaterThanOrEqual(10);
    expect(allowed).toBeLessThan(14);
    const fallback = (await metrics.getSingleMetric('ratelimit_fallback_decisions_total')!.get()).values;
    expect(fallback.find((v) => v.labels['outcome'] === 'allowed')?.value).toBe(allowed);
    expect(fallback.find((v) => v.labels['outcome'] === 'limited')?.value).toBe(30 - allowed);
    expect((await metrics.getSingleMetric('ratelimit_redis_available')!.get()).values[0]?.value).toBe(0);
    expect((await metrics.getSingleMetric('gateway_redis_up')!.get()).values[0]?.value).toBe(0);
    // Caller and tenant alike: an operator is held to its own bucket, and its refusals charge the tenant nothing.
    await expectOperatorHeldToItsShare(limiter, await registerTenant('no-redis-drained', 1));
  });
});
