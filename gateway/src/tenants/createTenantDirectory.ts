import { inTransaction, setTenant, type PgPool } from '@coherence/platform';

export interface TenantDirectoryOptions {
  pool: PgPool;
  /** How long a found tenant's residency is reused before it is read again. */
  ttlMs: number;
}

/**
 * Tenants' residency regions, read from the `tenants` table (one RLS-scoped
 * read per tenant) and cached for `ttlMs`. Tenants that are not found are
 * not cached, so a newly registered tenant is served at once.
 */
export function createTenantDirectory(options: TenantDirectoryOptions) {
  const cache = new Map<string, { residency: string; expiresAt: number }>();

  return {
    /** Residency of each registered tenant among `tenantIds`; unregistered ones are absent from the map. */
    async residencyOf(tenantIds: readonly string[]): Promise<Map<string, string>> {
      const now = Date.now();
      const found = new Map<string, string>();
      const missing: string[] = [];
      for (const tenantId of tenantIds) {
        const cached = cache.get(tenantId);
        if (cached && cached.expiresAt > now) found.set(tenantId, cached.residency);
        else missing.push(tenantId);
      }
      if (missing.length === 0) return found;
      await inTransaction(options.pool, async (client) => {
        for (const tenantId of missing) {
          await setTenant(client, tenantId);
          const { rows } = await client.query<{ residency: string }>('SELECT residency FROM tenants WHERE tenant_id = $1', [tenantId]);
          const residency = rows[0]?.residency;
          if (residency === undefined) continue;
          found.set(tenantId, residency);
          cache.set(tenantId, { residency, expiresAt: now + options.ttlMs });
        }
      });
      return found;
    },
  };
}

export type TenantDirectory = ReturnType<typeof createTenantDirectory>;
