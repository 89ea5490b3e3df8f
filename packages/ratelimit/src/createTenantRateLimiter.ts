import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { createLocalGcra } from './createLocalGcra';

/**
 * GCRA (the generic cell rate algorithm) as one Lua script, so the
 * read-modify-write of each bucket's "theoretical arrival time" is atomic
 * across every process sharing the Redis. Time comes from Redis (`TIME`), not
 * from the callers, so skewed clocks between gateway and ingest hosts cannot
 * hand out extra capacity. Times are integer microseconds (exact in a Lua
 * double).
 *
 * Several buckets are checked and spent together (the gateway's caller and
 * tenant): the cost is spent on every bucket only if each has room, so a
 * refusal by one charges none. One script, so no other process sees one
 * spent and the other not.
 *
 * KEYS: the buckets; ARGV: per bucket, emission interval (µs per unit), burst
 * (units), cost (units). Returns per bucket the µs until it has room (0: it
 * has room now); all zeros means the cost was spent.
 */
const gcraScript = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local newTats = {}
local waits = {}
local allowed = true
for i, key in ipairs(KEYS) do
  local emission = tonumber(ARGV[3 * i - 2])
  local burst = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  newTats[i] = tat + emission * cost
  local allowAt = newTats[i] - emission * burst
  if allowAt > now then
    waits[i] = math.ceil(allowAt - now)
    allowed = false
  else
    waits[i] = 0
  end
end
if allowed then
  for i, key in ipairs(KEYS) do
    redis.call('SET', key, string.format('%.0f', newTats[i]), 'PX', math.ceil((newTats[i] - now) / 1000) + 1000)
  end
end
return waits
`;

const GCRA_COMMAND = 'coherenceGcraBuckets';

export interface TenantRateLimiterOptions {
  redis: Redis;
  /** Prepended to the tenant id (or a bucket's key) to form the Redis key, e.g. `ingest:rate:`. */
  keyPrefix: string;
  /** The tenant's sustained rate, in units (requests, signals…) per second, for `consume` without `limits`. */
  ratePerSecond: (tenantId: string) => number;
  /** How many units the tenant may spend at once after being idle, for `consume` without `limits`; a cost above it is never allowed. */
  burst: (tenantId: string) => number;
  /**
   * Registers `ratelimit_fallback_decisions_total` and `ratelimit_redis_available`; the scraper adds the
   * `service` label that tells the gateway's from ingest's (grafana/README.md, "Labels").
   */
  metrics: Registry;
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

/** One bucket of a spend over several buckets at once: its key (after `keyPrefix`), its limits for this call and the units to spend. */
export interface BucketSpend extends TenantLimits {
  key: string;
  cost: number;
}

export interface BucketsDecision extends RateLimitDecision {
  /** Which buckets had no room (their indexes among those given; empty when allowed). None was charged. */
  limited: number[];
}

export interface TenantRateLimiter {
  /**
   * Spends `cost` units (default 1) of the tenant's share, or refuses without
   * spending anything. `limits` replaces the options' rate and burst for this call.
   * Never rejects: when Redis fails, the in-process fallback decides.
   */
  consume(tenantId: string, cost?: number, limits?: TenantLimits): Promise<RateLimitDecision>;
  /**
   * Spends each bucket's cost only if every bucket has room for it, else
   * nothing (one atomic step, in Redis or in the fallback);
   * `retryAfterSeconds` is then the longest wait. Never rejects.
   */
  consumeAll(buckets: readonly BucketSpend[]): Promise<BucketsDecision>;
}

/**
 * A per-tenant GCRA limiter on Redis, shared by every process that uses the
 * same `keyPrefix`. When a Redis call fails or times out, the same GCRA runs
 * in this process (keyed like Redis): letting everything through would make
 * a slow Redis, which a saturated caller causes itself, the moment the limit
 * vanishes. Redis is asked again on every call, so the first answer ends the
 * fallback.
 */
export function createTenantRateLimiter(options: TenantRateLimiterOptions): TenantRateLimiter {
  // defineCommand sends the script by its sha1 (EVALSHA) and loads it on a
  // NOSCRIPT miss, so the script text is not sent with every call. Without
  // `numberOfKeys` the first argument says how many keys follow.
  if (!(GCRA_COMMAND in options.redis)) options.redis.defineCommand(GCRA_COMMAND, { lua: gcraScript });
  const redis = options.redis as Redis & Record<typeof GCRA_COMMAND, (...args: (string | number)[]) => Promise<number[]>>;
  const local = createLocalGcra();
  const fallbackDecisions = new Counter({
    name: 'ratelimit_fallback_decisions_total',
    help: 'Limiter decisions taken in process because Redis failed or timed out, by outcome (allowed, limited).',
    labelNames: ['outcome'],
    registers: [options.metrics],
  });
  const redisAvailable = new Gauge({
    name: 'ratelimit_redis_available',
    help: "1 while the limiter's Redis answers, 0 while the in-process fallback decides.",
    registers: [options.metrics],
  });
  redisAvailable.set(1);
  let available = true;

  const decisionOf = (waitsMicros: readonly number[]): BucketsDecision => {
    const limited = waitsMicros.flatMap((wait, i) => (wait > 0 ? [i] : []));
    if (limited.length === 0) return { allowed: true, retryAfterSeconds: 0, limited };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(...waitsMicros) / 1_000_000)), limited };
  };

  async function consumeAll(buckets: readonly BucketSpend[]): Promise<BucketsDecision> {
    const spends = buckets.map(({ key, ratePerSecond, burst, cost }) => ({ key, emissionMicros: 1_000_000 / ratePerSecond, burst, cost }));
    let waits: number[];
    try {
      waits = await redis[GCRA_COMMAND](
        spends.length,
        ...spends.map(({ key }) => `${options.keyPrefix}${key}`),
        ...spends.flatMap(({ emissionMicros, burst, cost }) => [emissionMicros, burst, cost]),
      );
    } catch (error) {
      if (available) {
        available = false;
        redisAvailable.set(0);
        options.onFallback(error);
      }
      const decision = decisionOf(local.consume(spends));
      fallbackDecisions.inc({ outcome: decision.allowed ? 'allowed' : 'limited' });
      return decision;
    }
    if (!available) {
      available = true;
      redisAvailable.set(1);
      options.onRecovered();
    }
    return decisionOf(waits);
  }

  return {
    async consume(tenantId, cost = 1, limits) {
      const ratePerSecond = limits?.ratePerSecond ?? options.ratePerSecond(tenantId);
      const burst = limits?.burst ?? options.burst(tenantId);
      const { allowed, retryAfterSeconds } = await consumeAll([{ key: tenantId, ratePerSecond, burst, cost }]);
      return { allowed, retryAfterSeconds };
    },
    consumeAll,
  };
}
