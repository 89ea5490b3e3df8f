import type { Logger } from '@coherence/platform';
import type { Registry } from 'prom-client';
import { JSON_CONTENT_TYPE, toGatewayResponse, type ExecutedOperation, type GatewayResponse } from '../gatewayResponse';
import type { GatewayOperation } from '../persisted/createPersistedOperations';
import type { GatewayRedis } from './createGatewayRedis';
import { createResponseCache, type CacheOutcome } from './createResponseCache';
import { subscribeCacheInvalidation } from './subscribeCacheInvalidation';

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
function isCacheableAnswer({ status, result }: ExecutedOperation, newestChangeMs: number | undefined): boolean {
  if (status !== 200 || result.errors !== undefined) return false;
  const answer: unknown = result.data?.[CACHED_ROOT_FIELD];
  if (typeof answer !== 'object' || answer === null) return false;
  const { updatedAt } = answer as { updatedAt?: unknown };
  if (newestChangeMs === undefined || typeof updatedAt !== 'string') return true;
  return Date.parse(updatedAt) >= newestChangeMs;
}

const withCacheHeader = (response: GatewayResponse, outcome: CacheOutcome): GatewayResponse => ({
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
    /**
     * `execute`'s answer, or the cached one when the operation is cacheable.
     * `ttlSeconds` is the tenant's override (its row's `cache_ttl_seconds`),
     * null for the default.
     */
    async serve(
      request: { operation: GatewayOperation; variables: Record<string, unknown>; tenantIds: readonly string[]; ttlSeconds: number | null },
      execute: () => Promise<ExecutedOperation>,
    ): Promise<GatewayResponse> {
      const { operation, variables, tenantIds } = request;
      const tenantId = tenantIds[0];
      if (!options.enabled || tenantId === undefined || !isCacheableOperation(operation, tenantIds))
        return toGatewayResponse(await execute());
      const result = await cache.getOrLoad(
        {
          tenantId,
          operationId: operation.id,
          operationName: operation.name,
          // Only declared variables: extra ones change nothing in the answer and must not make new keys.
          variables: Object.fromEntries(
            operation.shape.variableNames.filter((name) => name in variables).map((name) => [name, variables[name]]),
          ),
          ttlSeconds: request.ttlSeconds ?? options.defaultTtlSeconds,
        },
        async () => {
          const executed = await execute();
          return { ...toGatewayResponse(executed), cacheable: isCacheableAnswer(executed, newestChange.get(tenantId)) };
        },
      );
      const { loaded } = result;
      const response = loaded
        ? { status: loaded.status, headers: loaded.headers, body: loaded.body }
        : { status: 200, headers: [['content-type', JSON_CONTENT_TYPE]] satisfies [string, string][], body: result.body };
      return withCacheHeader(response, result.outcome);
    },
    /** Drops the tenant's entries (TenantChanged: its cache TTL, or its suspension, changed); false when Redis could not be told. */
    forgetTenant: async (tenantId: string): Promise<boolean> => !options.enabled || cache.invalidate(tenantId),
    close: async () => invalidation?.close(),
  };
}

export type TenantCoherenceCache = ReturnType<typeof createTenantCoherenceCache>;
