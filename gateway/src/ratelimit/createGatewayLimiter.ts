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
 * for everyone by {@link shareFactor} when this process is saturated. While
 * Redis fails or times out, the same bucket runs in this process (keyed by
 * tenant, as in Redis): an outage of the store neither becomes errors for
 * every tenant nor lifts the limit.
 */
export function createGatewayLimiter(options: GatewayLimiterOptions) {
  const { gatewayRedis } = options;
  const gcra = createTenantRateLimiter({
    redis: gatewayRedis.redis,
    keyPrefix: `${options.keyPrefix}rate:`,
    ratePerSecond: () => options.ratePerSecond,
    burst: () => Math.max(1, options.ratePerSecond * options.burstSeconds),
    metrics: options.metrics,
    service: 'gateway',
    // The connection shared with the cache logs one line per outage and keeps `gateway_redis_up`.
    onFallback: (error) => gatewayRedis.failed('limiter', error),
    onRecovered: () => gatewayRedis.succeeded(),
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
    help: 'Limiter decisions: allowed, or limited (429); those taken without Redis are also in ratelimit_fallback_decisions_total.',
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
      const decision = await gcra.consume(tenantId, 1, { ratePerSecond, burst: Math.max(1, ratePerSecond * options.burstSeconds) });
      decisions.inc({ outcome: decision.allowed ? 'allowed' : 'limited' });
      return decision;
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
