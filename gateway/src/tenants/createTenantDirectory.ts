import { inTransaction, setTenant, type PgPool } from '@coherence/platform';

/** What the gateway needs of a registered tenant's row in `tenants`. */
export interface TenantRecord {
  /** The region its data may be read in (the policy's residency check). */
  residency: string;
  /** Its share of the gateway: its rate is `weight` times the rate of weight 1. */
  weight: number;
  /** Its cache TTL override; null uses the gateway's default. */
  cacheTtlSeconds: number | null;
}

export interface TenantDirectoryOptions {
  pool: PgPool;
  /** How long a found tenant's row is reused before it is read again. */
  ttlMs: number;
}

/**
 * Tenants' rows from the `tenants` table (one RLS-scoped read per tenant),
 * cached for `ttlMs` so the read path does not query Postgres per request;
 * the pipeline's tenant step asks once per request. Concurrent reads of one
 * tenant share one query. Tenants that are not found are not cached, so a
 * newly registered tenant is served at once.
 */
export function createTenantDirectory(options: TenantDirectoryOptions) {
  const cache = new Map<string, { record: Promise<TenantRecord | undefined>; expiresAt: number }>();

  async function read(tenantId: string): Promise<TenantRecord | undefined> {
    return inTransaction(options.pool, async (client) => {
      await setTenant(client, tenantId);
      const { rows } = await client.query<{ residency: string; weight: string; cache_ttl_seconds: number | null }>(
        'SELECT residency, weight, cache_ttl_seconds FROM tenants WHERE tenant_id = $1',
        [tenantId],
      );
      const row = rows[0];
      return row && { residency: row.residency, weight: Number(row.weight), cacheTtlSeconds: row.cache_ttl_seconds };
    });
  }

  function recordOf(tenantId: string): Promise<TenantRecord | undefined> {
    const now = Date.now();
    const cached = cache.get(tenantId);
    if (cached && cached.expiresAt > now) return cached.record;
    const record = read(tenantId);
    cache.set(tenantId, { record, expiresAt: now + options.ttlMs });
    // Neither a failed read nor an unregistered tenant is kept: the next request asks again.
    record.then(
      (found) => found ?? cache.delete(tenantId),
      () => cache.delete(tenantId),
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
  };
}

export type TenantDirectory = ReturnType<typeof createTenantDirectory>;
