import type { PgPool } from '@coherence/platform';
import { LRUCache } from 'lru-cache';

/** A registered tenant's row in `tenants`, as the gateway and ingest read it. */
export interface TenantRecord {
  /** The region its data may be read and written in (the policy's residency check). */
  residency: string;
  /** Its share of the gateway: its rate is `weight` times the rate of weight 1. */
  weight: number;
  /** Its cache TTL override; null uses the gateway's default. */
  cacheTtlSeconds: number | null;
  /** An admin suspended it: the policy refuses all but its administration (TENANT_SUSPENDED). */
  suspended: boolean;
}

export interface TenantDirectoryOptions {
  pool: PgPool;
  /** How long a found tenant's row is reused before it is read again. */
  ttlMs: number;
  /** How long "not registered" is believed: briefly, so a new tenant is served soon and a flood of made-up ids is not a query each. */
  negativeTtlMs: number;
  /** Tenants (found or not) remembered at most; least recently asked forgotten first. Default 10_000. */
  maxEntries?: number;
}

/**
 * Tenants' rows from the `tenants` table (one RLS-scoped read per tenant, in one round trip),
 * cached for `ttlMs` (or until `forget`: TenantChanged, see
 * listenForTenantChanges) so neither the read path nor ingest queries Postgres per
 * request; the gateway's tenant step asks once per request, ingest's write
 * policy once per batch (HTTP) or per tenant and slice (Kafka). Concurrent reads of one
 * tenant share one query. A tenant that is not registered is remembered as
 * such for `negativeTtlMs` only (made-up ids cost one query per id and
 * window, not one per request); a failed read is not remembered. The cache
 * is bounded, so made-up ids cannot grow it.
 */
export function createTenantDirectory(options: TenantDirectoryOptions) {
  const cache = new LRUCache<string, Promise<TenantRecord | undefined>>({ max: options.maxEntries ?? 10_000 });

  // One round trip: the function sets the tenant for row-level security and reads (gateway migration 007).
  async function read(tenantId: string): Promise<TenantRecord | undefined> {
    const { rows } = await options.pool.query<{ residency: string; weight: string; cache_ttl_seconds: number | null; suspended: boolean }>(
      'SELECT * FROM gateway_read_tenant($1)',
      [tenantId],
    );
    const row = rows[0];
    return (
      row && { residency: row.residency, weight: Number(row.weight), cacheTtlSeconds: row.cache_ttl_seconds, suspended: row.suspended }
    );
  }

  function recordOf(tenantId: string): Promise<TenantRecord | undefined> {
    const cached = cache.get(tenantId);
    if (cached) return cached;
    const record = read(tenantId);
    cache.set(tenantId, record, { ttl: options.ttlMs });
    record.then(
      (found) => {
        if (!found && cache.get(tenantId) === record) cache.set(tenantId, record, { ttl: options.negativeTtlMs });
      },
      () => cache.get(tenantId) === record && cache.delete(tenantId),
    );
    return record;
  }

  return {
    /** The rows of the registered tenants among `tenantIds`; unregistered ones are absent. */
    async recordsOf(tenantIds: readonly string[]): Promise<Map<string, TenantRecord>> {
      const records = await Promise.all(tenantIds.map(recordOf));
      const found = new Map<string, TenantRecord>();
      tenantIds.forEach((tenantId, i) => {
        const record = records[i];
        if (record) found.set(tenantId, record);
      });
      return found;
    },
    /** Drops what is cached of `tenantId` (it changed: TenantChanged), so the next request reads its row again. */
    forget(tenantId: string): void {
      cache.delete(tenantId);
    },
    /** Drops every cached tenant (TenantChanged notices may have been missed). */
    forgetAll(): void {
      cache.clear();
    },
  };
}

export type TenantDirectory = ReturnType<typeof createTenantDirectory>;
