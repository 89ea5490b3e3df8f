import { canonicalJson, type Logger } from '@coherence/platform';
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { GatewayRedis } from './createGatewayRedis';

/**
 * Stores the entry only if the tenant's version and the cache epoch are
 * still those read before loading (a `CoherenceChanged` that arrived during
 * the load must not be undone by a stale write), then frees the lock if this
 * loader still holds it. KEYS: entry, tenant version, epoch, lock. ARGV:
 * expected stamp, value ('' = store nothing), ttl ms, lock token.
 */
const storeScript = `
local stamp = (redis.call('GET', KEYS[2]) or '0') .. '.' .. (redis.call('GET', KEYS[3]) or '0')
local stored = 0
if ARGV[2] ~= '' and stamp == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  stored = 1
end
if redis.call('GET', KEYS[4]) == ARGV[4] then redis.call('DEL', KEYS[4]) end
return stored
`;
const STORE_COMMAND = 'coherenceGatewayCacheStore';

/** What a loader answers; only `cacheable` answers are stored. */
export interface LoadedResponse {
  body: string;
  cacheable: boolean;
}

export interface CacheRequest {
  tenantId: string;
  operationId: string;
  /** The metrics label (bounded by the manifest). */
  operationName: string;
  variables: Record<string, unknown>;
  ttlSeconds: number;
}

/**
 * `hit`: answered without this request calling a subgraph (from Redis, from a
 * load already running in this process, or from another instance's load it
 * waited for). `miss`: this request loaded it. `bypass`: Redis failed, loaded
 * without the cache.
 */
export type CacheOutcome = 'hit' | 'miss' | 'bypass';

/** The body to answer with; `loaded` is the loader's full answer when this request (or the one it joined) loaded it. */
export interface CacheResult<T extends LoadedResponse> {
  outcome: CacheOutcome;
  body: string;
  loaded?: T;
}

export interface ResponseCacheOptions {
  gatewayRedis: GatewayRedis;
  /** Prepended to every key. */
  keyPrefix: string;
  /** Each entry's TTL moves by up to ± this fraction of it. */
  ttlJitter: number;
  /** How long a miss waits for another instance's load of the same key before loading too. */
  lockWaitMs: number;
  logger: Logger;
  metrics: Registry;
}

const LOCK_POLL_MS = 20;

/**
 * A read-through cache of whole responses in Redis, keyed by tenant,
 * persisted operation and variables. Invalidation is by version: each
 * tenant has a counter that `invalidate` bumps, and a global epoch that
 * `invalidateAll` bumps; an entry carries the stamp it was loaded under and
 * is a miss once either moved. On a miss one load per key runs at a time:
 * in this process by sharing the promise, across instances by a lock
 * (SET NX PX) whose holder's answer the others wait for. Any Redis failure
 * makes the request a `bypass`: loaded, answered, not stored, no error.
 */
export function createResponseCache(options: ResponseCacheOptions) {
  const { gatewayRedis, keyPrefix } = options;
  const { redis } = gatewayRedis;
  if (!(STORE_COMMAND in redis)) redis.defineCommand(STORE_COMMAND, { numberOfKeys: 4, lua: storeScript });
  const store = (redis as unknown as Record<typeof STORE_COMMAND, (...args: (string | number)[]) => Promise<number>>)[STORE_COMMAND].bind(
    redis,
  );
  const epochKey = `${keyPrefix}cache:epoch`;
  const versionKey = (tenantId: string) => `${keyPrefix}cache:version:${tenantId}`;
  const running = new Map<string, Promise<CacheResult<LoadedResponse>>>();

  const requests = new Counter({
    name: 'gateway_cache_requests_total',
    help: 'Cacheable requests by outcome: hit (no subgraph call of its own), miss (loaded), bypass (Redis failed, loaded).',
    labelNames: ['operation', 'outcome'],
    registers: [options.metrics],
  });
  const errors = new Counter({
    name: 'gateway_cache_errors_total',
    help: 'Redis commands of the cache that failed or timed out, by step (lookup, lock, store, invalidate).',
    labelNames: ['operation', 'step'],
    registers: [options.metrics],
  });
  const invalidations = new Counter({
    name: 'gateway_cache_invalidations_total',
    help: 'Tenant invalidations (a CoherenceChanged) and whole-cache ones (the change feed was lost for a while).',
    registers: [options.metrics],
  });
  const counts = new Map<string, { hits: number; total: number }>();
  new Gauge({
    name: 'gateway_cache_hit_ratio',
    help: 'Hits over cacheable requests since start, per operation.',
    labelNames: ['operation'],
    registers: [options.metrics],
    collect() {
      for (const [operation, { hits, total }] of counts) this.set({ operation }, total === 0 ? 0 : hits / total);
    },
  });
  function count(operation: string, outcome: CacheOutcome): void {
    requests.inc({ operation, outcome });
    const seen = counts.get(operation) ?? { hits: 0, total: 0 };
    seen.total += 1;
    if (outcome === 'hit') seen.hits += 1;
    counts.set(operation, seen);
  }
  function failed(operation: string, step: string, error: unknown): void {
    errors.inc({ operation, step });
    gatewayRedis.failed('cache', error);
  }

  function ttlMs(ttlSeconds: number): number {
    const spread = 1 + options.ttlJitter * (2 * Math.random() - 1);
    return Math.max(1, Math.round(ttlSeconds * 1_000 * spread));
  }

  /** The stored body if the entry exists and was loaded under the current stamp. */
  function unpack(value: string | null, stamp: string): string | undefined {
    if (value === null) return undefined;
    const separator = value.indexOf('\n');
    return value.slice(0, separator) === stamp ? value.slice(separator + 1) : undefined;
  }

  async function bump(key: string): Promise<boolean> {
    try {
      await redis.incr(key);
      invalidations.inc();
      gatewayRedis.succeeded();
      return true;
    } catch (error) {
      failed('*', 'invalidate', error);
      return false;
    }
  }

  async function lookup(entryKey: string, tenantId: string): Promise<{ body: string | undefined; stamp: string }> {
    const [value, version, epoch] = await redis.mget(entryKey, versionKey(tenantId), epochKey);
    const stamp = `${version ?? '0'}.${epoch ?? '0'}`;
    return { body: unpack(value ?? null, stamp), stamp };
  }

  async function resolve<T extends LoadedResponse>(
    request: CacheRequest,
    entryKey: string,
    load: () => Promise<T>,
  ): Promise<CacheResult<T>> {
    const { operationName: operation } = request;
    const bypass = async (step: string, error: unknown): Promise<CacheResult<T>> => {
      failed(operation, step, error);
      const loaded = await load();
      return { outcome: 'bypass', body: loaded.body, loaded };
    };
    let found;
    try {
      found = await lookup(entryKey, request.tenantId);
      gatewayRedis.succeeded();
    } catch (error) {
      return bypass('lookup', error);
    }
    if (found.body !== undefined) return { outcome: 'hit', body: found.body };

    const lockKey = `${entryKey}:lock`;
    const token = randomUUID();
    let holder: boolean;
    try {
      // The lock outlives a normal load; a loader that died frees the key after it.
      holder = (await redis.set(lockKey, token, 'PX', options.lockWaitMs * 4, 'NX')) === 'OK';
    } catch (error) {
      return bypass('lock', error);
    }
    if (!holder) {
      // Another instance is loading this key: take its answer rather than calling the subgraph too.
      const deadline = Date.now() + options.lockWaitMs;
      while (Date.now() < deadline) {
        await sleep(LOCK_POLL_MS);
        try {
          const [value, lock] = await redis.mget(entryKey, lockKey);
          const body = unpack(value ?? null, found.stamp);
          if (body !== undefined) return { outcome: 'hit', body };
          if (lock === null) break; // it finished without storing (an error answer): load ourselves
        } catch (error) {
          return bypass('lock', error);
        }
      }
    }
    const loaded = await load();
    try {
      await store(
        entryKey,
        versionKey(request.tenantId),
        epochKey,
        lockKey,
        found.stamp,
        loaded.cacheable ? `${found.stamp}\n${loaded.body}` : '',
        ttlMs(request.ttlSeconds),
        token,
      );
    } catch (error) {
      failed(operation, 'store', error);
    }
    return { outcome: 'miss', body: loaded.body, loaded };
  }

  return {
    /**
     * The cached body, or `load()`'s answer (stored when cacheable). Never
     * throws for Redis; `load`'s own errors propagate.
     */
    async getOrLoad<T extends LoadedResponse>(request: CacheRequest, load: () => Promise<T>): Promise<CacheResult<T>> {
      const variablesHash = createHash('sha256').update(canonicalJson(request.variables)).digest('base64url');
      const entryKey = `${keyPrefix}cache:entry:${request.tenantId}:${request.operationId}:${variablesHash}`;
      const pending = running.get(entryKey) as Promise<CacheResult<T>> | undefined;
      if (pending) {
        // Same key already loading in this process: one subgraph call serves both.
        const shared = await pending;
        count(request.operationName, 'hit');
        return { ...shared, outcome: 'hit' };
      }
      const result = resolve(request, entryKey, load);
      running.set(entryKey, result);
      try {
        const settled = await result;
        count(request.operationName, settled.outcome);
        return settled;
      } finally {
        running.delete(entryKey);
      }
    },
    /** The tenant's entries are misses from now on (its score changed); false if Redis failed. */
    invalidate: (tenantId: string) => bump(versionKey(tenantId)),
    /** Every entry is a miss from now on (invalidations may have been missed); false if Redis failed. */
    invalidateAll: () => bump(epochKey),
  };
}

export type ResponseCache = ReturnType<typeof createResponseCache>;
