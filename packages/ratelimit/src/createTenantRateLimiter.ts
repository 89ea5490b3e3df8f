import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { createLocalGcra, type GcraBucket } from './createLocalGcra';

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
 * One call decides several such spends, one after the other (each sees the
 * ones before it): the spends a process asks for while its previous call is
 * in flight go together in the next (see `createTenantRateLimiter`).
 *
 * KEYS: every spend's buckets, spend after spend; ARGV: the number of spends,
 * then per spend its number of buckets followed, per bucket, by emission
 * interval (µs per unit), burst (units) and cost (units). Returns per bucket,
 * in the same order, the µs until it has room (0: it has room now); a spend
 * whose buckets all answer 0 was made.
 */
const gcraScript = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local waits = {}
local key = 1
local arg = 2
for _ = 1, tonumber(ARGV[1]) do
  local buckets = tonumber(ARGV[arg])
  arg = arg + 1
  local newTats = {}
  local allowed = true
  for i = 0, buckets - 1 do
    local emission = tonumber(ARGV[arg + 3 * i])
    local burst = tonumber(ARGV[arg + 3 * i + 1])
    local cost = tonumber(ARGV[arg + 3 * i + 2])
    local tat = tonumber(redis.call('GET', KEYS[key + i]) or now)
    if tat < now then tat = now end
    newTats[i] = tat + emission * cost
    local allowAt = newTats[i] - emission * burst
    if allowAt > now then
      waits[#waits + 1] = math.ceil(allowAt - now)
      allowed = false
    else
      waits[#waits + 1] = 0
    end
  end
  if allowed then
    for i = 0, buckets - 1 do
      redis.call('SET', KEYS[key + i], string.format('%.0f', newTats[i]), 'PX', math.ceil((newTats[i] - now) / 1000) + 1000)
    end
  end
  key = key + buckets
  arg = arg + 3 * buckets
end
return waits
`;

/** Spends decided by one script call at most: bounds how long one call holds Redis (which runs scripts one at a time). */
const MAX_SPENDS_PER_CALL = 256;

const GCRA_COMMAND = 'coherenceGcraSpends';

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

/** Redis's answer to one spend: its buckets' waits, or why there is none. */
type RedisAnswer = { ok: true; waits: number[] } | { ok: false; error: unknown };

/** A spend waiting for its script call. */
interface QueuedSpend {
  buckets: GcraBucket[];
  settle: (answer: RedisAnswer) => void;
}

/**
 * A per-tenant GCRA limiter on Redis, shared by every process that uses the
 * same `keyPrefix`. When a Redis call fails or times out, the same GCRA runs
 * in this process (keyed like Redis): letting everything through would make
 * a slow Redis, which a saturated caller causes itself, the moment the limit
 * vanishes. Redis is asked again on every call, so the first answer ends the
 * fallback.
 *
 * One script call is in flight at a time: the spends asked for meanwhile go
 * together in the next, one write and one script run for all of them. An idle
 * limiter sends a spend at once, so batching adds no wait; a busy one saves a
 * round trip per request (docs/adr/0036-remembered-decisions-and-batched-limiter.md).
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

  /** Spends asked for while a script call is in flight: they go together in the next one. */
  let queued: QueuedSpend[] = [];
  let inFlight = false;

  /** Sends what is queued (up to MAX_SPENDS_PER_CALL spends) as one script call; sends the rest when it answers. */
  function sendQueued(): void {
    const spends = queued.slice(0, MAX_SPENDS_PER_CALL);
    queued = queued.slice(MAX_SPENDS_PER_CALL);
    inFlight = true;
    const buckets = spends.flatMap(({ buckets }) => buckets);
    redis[GCRA_COMMAND](
      buckets.length,
      ...buckets.map(({ key }) => `${options.keyPrefix}${key}`),
      spends.length,
      ...spends.flatMap(({ buckets }) => [
        buckets.length,
        ...buckets.flatMap(({ emissionMicros, burst, cost }) => [emissionMicros, burst, cost]),
      ]),
    )
      .then((waits) => {
        if (waits.length !== buckets.length)
          throw new Error(`the limiter script answered ${waits.length} waits for ${buckets.length} buckets`);
        let next = 0;
        for (const spend of spends) spend.settle({ ok: true, waits: waits.slice(next, (next += spend.buckets.length)) });
      })
      .catch((error: unknown) => {
        // Those queued meanwhile would wait for a Redis that just failed: they are decided in process too.
        for (const spend of [...spends, ...queued]) spend.settle({ ok: false, error });
        queued = [];
      })
      .finally(() => {
        inFlight = false;
        if (queued.length > 0) sendQueued();
      });
  }

  async function consumeAll(spend: readonly BucketSpend[]): Promise<BucketsDecision> {
    const buckets = spend.map(({ key, ratePerSecond, burst, cost }) => ({ key, emissionMicros: 1_000_000 / ratePerSecond, burst, cost }));
    const answer = await new Promise<RedisAnswer>((settle) => {
      queued.push({ buckets, settle });
      if (!inFlight) sendQueued();
    });
    if (!answer.ok) {
      if (available) {
        available = false;
        redisAvailable.set(0);
        options.onFallback(answer.error);
      }
      const decision = decisionOf(local.consume(buckets));
      fallbackDecisions.inc({ outcome: decision.allowed ? 'allowed' : 'limited' });
      return decision;
    }
    if (!available) {
      available = true;
      redisAvailable.set(1);
      options.onRecovered();
    }
    return decisionOf(answer.waits);
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
