import { createTenantRateLimiter, type RateLimitDecision } from '@coherence/ratelimit';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { GatewayRedis } from '../cache/createGatewayRedis';
import { shareFactor } from './shareFactor';

export interface GatewayLimiterOptions {
  gatewayRedis: GatewayRedis;
  /** Prepended to the limiter's keys. */
  keyPrefix: string;
  /** Tokens per second of a tenant of weight 1 while the gateway is not saturated (a request spends its operation's cost). */
  ratePerSecond: number;
  /**
   * Tokens per second one caller may spend on tenants other than its own
   * (operators), whichever and however many they are; default half of
   * {@link ratePerSecond}, so one caller cannot take all of a tenant's share.
   */
  callerRatePerSecond?: number;
  /** The burst, in seconds of the bucket's rate (at least one token). */
  burstSeconds: number;
  /** Saturated above this many requests in flight… */
  maxInFlight: number;
  /** …or this event-loop delay (p99 over the last second). */
  maxLoopDelayMs: number;
  metrics: Registry;
  /** How often the event-loop delay is read; default 1_000. */
  sampleMs?: number;
}

/** One request to admit: who asks, for which tenant, at what cost. */
export interface RateLimitRequest {
  /** The tenant the request acts for, its weight, and whether it has a `tenants` row (only those are counted by tenant). */
  tenant: { id: string; weight: number; registered: boolean };
  /** Who asks (an opaque key), and whether the tenant is its own. */
  caller: { id: string; ownTenant: boolean };
  /** Tokens the request spends: its operation's declared cost. */
  cost: number;
}

/** The buckets a request is charged to, in the order they are handed to the GCRA. */
const BUCKETS = ['caller', 'tenant'] as const;
export type LimiterBucket = (typeof BUCKETS)[number];

export interface Admission extends RateLimitDecision {
  /** The buckets without room when refused (empty when allowed); neither was charged. */
  limitedBy: LimiterBucket[];
}

/**
 * The gateway's limiter: two GCRA buckets per request in Redis (so the
 * bounds hold across instances), the caller's and the target tenant's, both
 * charged the operation's cost, and only if both have room (issue 13, item 4:
 * charging the tenant alone let an operator token drain any tenant). The
 * tenant's bucket is sized by its weight; the caller's by the tenant's weight
 * when it is the caller's own tenant (an ordinary token keeps its tenant's
 * share), else by the caller rate, summed over every tenant the caller
 * touches. Both shrink by {@link shareFactor} when this process is
 * saturated. While Redis fails or times out, the same buckets run in this
 * process (keyed as in Redis): an outage of the store neither becomes errors
 * for every tenant nor lifts the limit.
 */
export function createGatewayLimiter(options: GatewayLimiterOptions) {
  const { gatewayRedis } = options;
  const callerRatePerSecond = options.callerRatePerSecond ?? options.ratePerSecond / 2;
  const gcra = createTenantRateLimiter({
    redis: gatewayRedis.redis,
    // Keys `rate:<tenant>` and `caller-rate:<caller>`: a tenant id cannot start a caller's key, whatever its characters.
    keyPrefix: options.keyPrefix,
    ratePerSecond: () => options.ratePerSecond,
    burst: () => Math.max(1, options.ratePerSecond * options.burstSeconds),
    metrics: options.metrics,
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
  // Per tenant for the cost model (docs/slo.md): registered tenants only, so the label is bounded by the tenants table.
  const tenantUnits = new Counter({
    name: 'gateway_tenant_request_units_total',
    help: "Cost units (each operation's declared cost) of the requests the limiter admitted, by tenant.",
    labelNames: ['tenant'],
    registers: [options.metrics],
  });
  const limited = new Counter({
    name: 'gateway_ratelimit_limited_total',
    help: "Requests the limiter refused, by the bucket without room: the caller's, the tenant's, or both.",
    labelNames: ['bucket'],
    registers: [options.metrics],
  });

  /** A bucket's limits now; a cost above its burst is charged as the whole burst, so no request can wait forever. */
  const spend = (key: string, ratePerSecond: number, cost: number) => {
    const burst = Math.max(1, ratePerSecond * options.burstSeconds);
    return { key, ratePerSecond, burst, cost: Math.min(cost, burst) };
  };

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
    /** Spends the request's cost of the caller's and the tenant's current shares, or neither and says how long to wait. */
    async admit({ tenant, caller, cost }: RateLimitRequest): Promise<Admission> {
      const factor = currentFactor();
      const tenantRate = options.ratePerSecond * tenant.weight * factor;
      const callerRate = caller.ownTenant ? tenantRate : callerRatePerSecond * factor;
      const buckets = [spend(`caller-rate:${caller.id}`, callerRate, cost), spend(`rate:${tenant.id}`, tenantRate, cost)];
      const { allowed, retryAfterSeconds, limited: refusedBy } = await gcra.consumeAll(buckets);
      const limitedBy = refusedBy.map((i) => BUCKETS[i]!);
      decisions.inc({ outcome: allowed ? 'allowed' : 'limited' });
      if (allowed && tenant.registered) tenantUnits.inc({ tenant: tenant.id }, cost);
      if (!allowed) limited.inc({ bucket: limitedBy.length === BUCKETS.length ? 'both' : limitedBy[0] });
      return { allowed, retryAfterSeconds, limitedBy };
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
