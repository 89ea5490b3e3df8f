import { createLogger } from '@coherence/platform';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createGatewayRedis } from '../cache/createGatewayRedis';
import { createGatewayLimiter } from '../ratelimit/createGatewayLimiter';
import type { RequestTenant } from './GatewayStep';
import { testContext } from './testContext';
import { useRateLimit } from './useRateLimit';

/** The limiter step against the real Redis: the share comes from the tenant row the context carries. */
const metrics = new Registry();
const gatewayRedis = createGatewayRedis({
  url: inject('services').redisUrl,
  commandTimeoutMs: 1_000,
  logger: createLogger('test', 'silent'),
  metrics,
});
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

afterAll(async () => {
  limiter.close();
  await gatewayRedis.close();
});

const requestOf = (tenantId: string, weight: number | undefined) => {
  const tenant: RequestTenant = {
    tenantId,
    record: weight === undefined ? undefined : { residency: 'us', weight, cacheTtlSeconds: null },
    residency: new Map(),
  };
  return testContext({ tenant });
};

async function admittedOf(tenantId: string, weight: number | undefined, attempts: number) {
  let admitted = 0;
  for (let i = 0; i < attempts; i += 1) if ((await step.onRequest!(requestOf(tenantId, weight))) === undefined) admitted += 1;
  return admitted;
}

describe('useRateLimit', () => {
  it('refuses over the share with RATE_LIMITED and when to retry', async () => {
    await gatewayRedis.connected(5_000);
    expect(await admittedOf('unregistered', undefined, 1)).toBe(1);
    expect(await step.onRequest!(requestOf('unregistered', undefined))).toEqual({
      code: 'RATE_LIMITED',
      message: "over the tenant's request share; retry in 1 s",
      extensions: { retryAfterSeconds: 1 },
    });
  });

  it("sizes the share by the weight of the tenant's row in the context", async () => {
    expect(await admittedOf('heavy', 4, 10)).toBe(4);
  });
});
