import { createTenantRateLimiter, type RateLimitDecision } from '@coherence/ratelimit';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { GatewayRedis } from '../cache/createGatewayRedis';
import { shareFactor } from './shareFactor';

export interface GatewayLimiterOptions {
  gatewayRedis: GatewayRedis;
  /** Prepended to the limiter's keys. */
  keyPrefix: string;
  /** Requests per second of a tenant of weight 1 while the gateway is not saturated. */
  ratePerSecond: number;
  /** The burst, in seconds of the tenant's rate (at least one request). */
  burstSeconds: number;
  /** Saturated above this many requests in flight… */
  maxInFlight: number;
  /** …or this event-loop delay (p99 over the last second). */
  maxLoopDelayMs: number;
  metrics: Registry;
  /** How often the event-loop delay is read; default 1_000. */
  sampleMs?: number;
}

/**
 * The gateway's per-tenant limiter: a GCRA bucket per tenant in Redis (so
 * the bound holds across instances), sized by the tenant's weight and shrunk
 * for everyone by {@link shareFactor} when this process is saturated. Redis
 * failing lets the request through (counted, logged once): the limiter must
 * never turn an outage of its store into errors for every tenant.
 */
export function createGatewayLimiter(options: GatewayLimiterOptions) {
  const { gatewayRedis } = options;
  const gcra = createTenantRateLimiter({
    redis: gatewayRedis.redis,
    keyPrefix: `${options.keyPrefix}rate:`,
    ratePerSecond: () => options.ratePerSecond,
    burst: () => Math.max(1, options.ratePerSecond * options.burstSeconds),
  });

  let inFlight = 0;
  let loopDelayMs = 0;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const sampler = setInterval(() => {
    loopDelayMs = loopDelay.percentile(99) / 1e6;
    loopDelay.reset();
  }, options.sampleMs ?? 1_000);
  sampler.unref();
  const currentFactor = () =>
    shareFactor({ inFlight, maxInFlight: options.maxInFlight, loopDelayMs, maxLoopDelayMs: options.maxLoopDelayMs });

  new Gauge({
    name: 'gateway_in_flight_requests',
    help: 'GraphQL requests being handled by this gateway process.',
    registers: [options.metrics],
    collect() {
      this.set(inFlight);
    },
  });
  new Gauge({
    name: 'gateway_ratelimit_share_factor',
    help: "What every tenant's rate is multiplied by now: 1 unless the gateway is saturated.",
    registers: [options.metrics],
    collect() {
      this.set(currentFactor());
    },
  });
  const decisions = new Counter({
    name: 'gateway_ratelimit_decisions_total',
    help: 'Limiter decisions: allowed, limited (429), or failed_open (Redis failed; let through).',
    labelNames: ['outcome'],
    registers: [options.metrics],
  });

  return {
    /** Counts `handle` as in flight while it runs (the saturation signal). */
    async track<T>(handle: () => Promise<T>): Promise<T> {
      inFlight += 1;
      try {
        return await handle();
      } finally {
        inFlight -= 1;
      }
    },
    /** Spends one request of the tenant's current share (`weight` times the rate of weight 1), or says how long to wait. */
    async admit(tenantId: string, weight: number): Promise<RateLimitDecision> {
      const ratePerSecond = options.ratePerSecond * weight * currentFactor();
      try {
        const decision = await gcra.consume(tenantId, 1, { ratePerSecond, burst: Math.max(1, ratePerSecond * options.burstSeconds) });
        gatewayRedis.succeeded();
        decisions.inc({ outcome: decision.allowed ? 'allowed' : 'limited' });
        return decision;
      } catch (error) {
        gatewayRedis.failed('limiter', error);
        decisions.inc({ outcome: 'failed_open' });
        return { allowed: true, retryAfterSeconds: 0 };
      }
    },
    /** For tests and benchmarks: the factor the shares are multiplied by now. */
    shareFactor: currentFactor,
    close(): void {
      clearInterval(sampler);
      loopDelay.disable();
    },
  };
}

export type GatewayLimiter = ReturnType<typeof createGatewayLimiter>;
