import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/testkit';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createGatewayRedis, type GatewayRedis } from '../cache/createGatewayRedis';
import { createGatewayLimiter } from './createGatewayLimiter';
import { createTenantDirectory } from '../tenants/createTenantDirectory';

/** The gateway limiter against the real Redis and the real `tenants` table. */
let database: TestDatabase;
let appPool: PgPool;
let adminPool: PgPool;
const closers: (() => unknown)[] = [];
const logger = createLogger('test', 'silent');

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  appPool = createPgPool(database.appUrl);
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
  const admit = async (tenantId: string) => limiter.admit(tenantId, (await tenants.recordsOf([tenantId])).get(tenantId)?.weight ?? 1);
  return { limiter: { ...limiter, admit }, metrics };
}

async function registerTenant(name: string, weight: number): Promise<string> {
  const tenantId = `${database.namespace}-${name}`;
  await adminPool.query(`INSERT INTO tenants (tenant_id, residency, weight) VALUES ($1, 'us', $2)`, [tenantId, weight]);
  return tenantId;
}

async function allowedOf(limiter: Awaited<ReturnType<typeof limiterOn>>['limiter'], tenantId: string, attempts: number) {
  let allowed = 0;
  for (let i = 0; i < attempts; i += 1) if ((await limiter.admit(tenantId)).allowed) allowed += 1;
  return allowed;
}

describe('createGatewayLimiter', () => {
  it("sizes each tenant's share by its weight", async () => {
    const { limiter } = await limiterOn(inject('services').redisUrl);
    const light = await registerTenant('light', 1);
    const heavy = await registerTenant('heavy', 3);
    // Burst = 1 s of rate: 10 for weight 1, 30 for weight 3 (plus what refills during the loop).
    const lightAllowed = await allowedOf(limiter, light, 60);
    expect(await limiter.admit(light)).toEqual({ allowed: false, retryAfterSeconds: 1 });
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
  });
});
