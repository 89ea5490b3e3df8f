import type { Logger } from '@coherence/platform';
import type { Registry } from 'prom-client';
import type { GatewayOperation } from '../persisted/createPersistedOperations';
import type { TenantDirectory } from '../tenants/createTenantDirectory';
import type { GatewayRedis } from './createGatewayRedis';
import { createResponseCache, type CacheOutcome } from './createResponseCache';
import { subscribeCacheInvalidation } from './subscribeCacheInvalidation';

/** An executed operation as the gateway answers it. */
export interface ExecutedResponse {
  status: number;
  headers: [string, string][];
  body: string;
}

export interface TenantCoherenceCacheOptions {
  /** Off: every request runs, nothing is stored or subscribed (GATEWAY_CACHE_ENABLED). */
  enabled: boolean;
  gatewayRedis: GatewayRedis;
  redisUrl: string;
  /** The `CoherenceChanged` channel that invalidates a tenant's entries. */
  channel: string;
  keyPrefix: string;
  /** Used when the tenant's row sets no `cache_ttl_seconds`. */
  defaultTtlSeconds: number;
  ttlJitter: number;
  lockWaitMs: number;
  tenants: TenantDirectory;
  logger: Logger;
  metrics: Registry;
}

const CACHED_ROOT_FIELD = 'tenantCoherence';
/** Tells clients and operators where an answer came from. */
const CACHE_HEADER = 'x-cache';

/**
 * What is cached is deliberately narrow: a persisted query whose only root
 * field is `tenantCoherence` for one tenant, answered 200 with data and no
 * errors. Anything else runs as before. Callers put this after
 * authentication and the policy decision, so a cached answer only ever goes
 * to a request that was allowed to read it.
 */
export function isCacheableOperation(operation: GatewayOperation, tenantIds: readonly string[]): boolean {
  const { rootFields } = operation.shape;
  return operation.type === 'query' && rootFields.length === 1 && rootFields[0] === CACHED_ROOT_FIELD && tenantIds.length === 1;
}

/**
 * Only a clean answer is stored, and never one older than the newest change
 * this gateway has heard of for the tenant: with region-routing on, a miss
 * right after CoherenceChanged may read a replica that has not replayed the
 * change yet, and storing that would undo the invalidation for a whole TTL.
 */
function isCacheableAnswer(response: ExecutedResponse, newestChangeMs: number | undefined): boolean {
  if (response.status !== 200) return false;
  let body: { data?: Record<string, { updatedAt?: unknown } | null> | null; errors?: unknown[] };
  try {
    body = JSON.parse(response.body) as typeof body;
  } catch {
    return false;
  }
  const answer = body.data?.[CACHED_ROOT_FIELD];
  if (body.errors !== undefined || answer === null || answer === undefined) return false;
  if (newestChangeMs === undefined || typeof answer.updatedAt !== 'string') return true;
  return Date.parse(answer.updatedAt) >= newestChangeMs;
}

const withCacheHeader = (response: ExecutedResponse, outcome: CacheOutcome): ExecutedResponse => ({
  ...response,
  headers: [...response.headers, [CACHE_HEADER, outcome.toUpperCase()]],
});

/** The gateway's `tenantCoherence` cache: TTL per tenant with jitter, single-flight, invalidated by `CoherenceChanged`. */
export function createTenantCoherenceCache(options: TenantCoherenceCacheOptions) {
  const cache = createResponseCache(options);
  /** Per tenant, the `updatedAt` of the newest CoherenceChanged heard (ms). */
  const newestChange = new Map<string, number>();
  const invalidation = options.enabled
    ? subscribeCacheInvalidation({
        redisUrl: options.redisUrl,
        channel: options.channel,
        cache,
        logger: options.logger,
        onChange: (message) => {
          const at = Date.parse(message.payload.current.updatedAt);
          if (at > (newestChange.get(message.tenantId) ?? 0)) newestChange.set(message.tenantId, at);
        },
      })
    : undefined;

  return {
    /** `execute`'s answer, or the cached one when the operation is cacheable. */
    async serve(
      request: { operation: GatewayOperation; variables: Record<string, unknown>; tenantIds: readonly string[] },
      execute: () => Promise<ExecutedResponse>,
    ): Promise<ExecutedResponse> {
      const { operation, variables, tenantIds } = request;
      const tenantId = tenantIds[0];
      if (!options.enabled || tenantId === undefined || !isCacheableOperation(operation, tenantIds)) return execute();
      const settings = await options.tenants.settingsOf(tenantId);
      const result = await cache.getOrLoad(
        {
          tenantId,
          operationId: operation.id,
          operationName: operation.name,
          // Only declared variables: extra ones change nothing in the answer and must not make new keys.
          variables: Object.fromEntries(
            operation.shape.variableNames.filter((name) => name in variables).map((name) => [name, variables[name]]),
          ),
          ttlSeconds: settings.cacheTtlSeconds ?? options.defaultTtlSeconds,
        },
        async () => {
          const response = await execute();
          return { ...response, cacheable: isCacheableAnswer(response, newestChange.get(tenantId)) };
        },
      );
      const { loaded } = result;
      const response = loaded
        ? { status: loaded.status, headers: loaded.headers, body: loaded.body }
        : { status: 200, headers: [['content-type', 'application/json; charset=utf-8']] satisfies [string, string][], body: result.body };
      return withCacheHeader(response, result.outcome);
    },
    close: async () => invalidation?.close(),
  };
}

export type TenantCoherenceCache = ReturnType<typeof createTenantCoherenceCache>;
