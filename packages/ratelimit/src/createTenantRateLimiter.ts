import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { createLocalGcra } from './createLocalGcra';

/**
 * GCRA (the generic cell rate algorithm) as one Lua script, so the
 * read-modify-write of a tenant's "theoretical arrival time" is atomic across
 * every process sharing the Redis. Time comes from Redis (`TIME`), not from
 * the callers, so skewed clocks between gateway and ingest hosts cannot hand
 * out extra capacity. Times are integer microseconds (exact in a Lua double).
 *
 * KEYS[1] the tenant's key; ARGV: emission interval (µs per unit), burst
 * (units), cost (units). Returns {1, 0} when allowed, else {0, µs to wait}.
 */
const gcraScript = `
local emission = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local newTat = tat + emission * cost
local allowAt = newTat - emission * burst
if allowAt > now then
  return {0, math.ceil(allowAt - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', math.ceil((newTat - now) / 1000) + 1000)
return {1, 0}
`;

const GCRA_COMMAND = 'coherenceTenantGcra';

export interface TenantRateLimiterOptions {
  redis: Redis;
  /** Prepended to the tenant id to form the Redis key, e.g. `ingest:rate:`. */
  keyPrefix: string;
  /** The tenant's sustained rate, in units (requests, signals…) per second. */
  ratePerSecond: (tenantId: string) => number;
  /** How many units the tenant may spend at once after being idle; a cost above it is never allowed. */
  burst: (tenantId: string) => number;
  /** Registers `ratelimit_fallback_decisions_total` and `ratelimit_redis_available`, labelled with `service`. */
  metrics: Registry;
  /** The `service` label, e.g. `gateway` or `ingest`. */
  service: string;
  /** Called once when a Redis call fails or times out and the in-process fallback takes over (to log it). */
  onFallback: (error: unknown) => void;
  /** Called once when Redis answers again after {@link onFallback}. */
  onRecovered: () => void;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Whole seconds until the same cost would be allowed (for `Retry-After`); 0 when allowed. */
  retryAfterSeconds: number;
}

/** A tenant's limits for one call, when they change at run time (the gateway's adaptive shares). */
export interface TenantLimits {
  ratePerSecond: number;
  burst: number;
}

export interface TenantRateLimiter {
  /**
   * Spends `cost` units (default 1) of the tenant's share, or refuses without
   * spending anything. `limits` replaces the options' rate and burst for this call.
   * Never rejects: when Redis fails, the in-process fallback decides.
   */
  consume(tenantId: string, cost?: number, limits?: TenantLimits): Promise<RateLimitDecision>;
}

/**
 * A per-tenant GCRA limiter on Redis, shared by every process that uses the
 * same `keyPrefix`. When a Redis call fails or times out, the same GCRA runs
 * in this process (keyed by tenant, like Redis): letting everything through
 * would make a slow Redis, which a saturated caller causes itself, the moment
 * the limit vanishes. Redis is asked again on every call, so the first answer
 * ends the fallback.
 */
export function createTenantRateLimiter(options: TenantRateLimiterOptions): TenantRateLimiter {
  // defineCommand sends the script by its sha1 (EVALSHA) and loads it on a
  // NOSCRIPT miss, so the script text is not sent with every call.
  if (!(GCRA_COMMAND in options.redis)) options.redis.defineCommand(GCRA_COMMAND, { numberOfKeys: 1, lua: gcraScript });
  const redis = options.redis as Redis & Record<typeof GCRA_COMMAND, (...args: (string | number)[]) => Promise<[number, number]>>;
  const local = createLocalGcra();
  const labels = { service: options.service };
  const fallbackDecisions = new Counter({
    name: 'ratelimit_fallback_decisions_total',
    help: 'Limiter decisions taken in process because Redis failed or timed out, by outcome (allowed, limited).',
    labelNames: ['service', 'outcome'],
    registers: [options.metrics],
  });
  const redisAvailable = new Gauge({
    name: 'ratelimit_redis_available',
    help: "1 while the limiter's Redis answers, 0 while the in-process fallback decides.",
    labelNames: ['service'],
    registers: [options.metrics],
  });
  redisAvailable.set(labels, 1);
  let available = true;

  const decisionOf = (allowed: boolean, waitMicros: number): RateLimitDecision =>
    allowed
      ? { allowed: true, retryAfterSeconds: 0 }
      : { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMicros / 1_000_000)) };

  return {
    async consume(tenantId, cost = 1, limits) {
      const rate = limits?.ratePerSecond ?? options.ratePerSecond(tenantId);
      const burst = limits?.burst ?? options.burst(tenantId);
      const emissionMicros = 1_000_000 / rate;
      let answer: [number, number];
      try {
        answer = await redis[GCRA_COMMAND](`${options.keyPrefix}${tenantId}`, emissionMicros, burst, cost);
      } catch (error) {
        if (available) {
          available = false;
          redisAvailable.set(labels, 0);
          options.onFallback(error);
        }
        const { allowed, waitMicros } = local.consume(tenantId, emissionMicros, burst, cost);
        fallbackDecisions.inc({ ...labels, outcome: allowed ? 'allowed' : 'limited' });
        return decisionOf(allowed, waitMicros);
      }
      if (!available) {
        available = true;
        redisAvailable.set(labels, 1);
        options.onRecovered();
      }
      return decisionOf(answer[0] === 1, answer[1]);
    },
  };
}
