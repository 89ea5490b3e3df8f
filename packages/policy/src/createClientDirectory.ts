import type { Principal } from '@coherence/auth';
import type { PgPool } from '@coherence/platform';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';

/** A tenant's API client as the admin API set it (`api_clients`; docs/adr/0031-tenant-administration.md). */
export interface ApiClientRecord {
  scopes: readonly string[];
  enabled: boolean;
}

/** Why a token's `client_id` is refused: the reason code of the 403. */
export type ClientRefusal = 'CLIENT_UNKNOWN' | 'CLIENT_DISABLED' | 'CLIENT_SCOPE_NOT_ALLOWED';

/**
 * Whether a token may be used as the client it names: an enabled client of
 * its tenant whose allowed scopes hold every scope the token carries. A
 * client the tenant does not have is accepted only when `acceptUnknown`
 * (outside production: tokens of tenants nobody gave clients yet).
 */
export function clientRefusal(
  record: ApiClientRecord | undefined,
  scopes: readonly string[],
  acceptUnknown: boolean,
): ClientRefusal | undefined {
  if (!record) return acceptUnknown ? undefined : 'CLIENT_UNKNOWN';
  if (!record.enabled) return 'CLIENT_DISABLED';
  if (scopes.some((scope) => !record.scopes.includes(scope))) return 'CLIENT_SCOPE_NOT_ALLOWED';
  return undefined;
}

export interface ClientDirectoryOptions {
  pool: PgPool;
  /** How long a client's row (or its absence) is reused before it is read again; TenantChanged drops it sooner. */
  ttlMs: number;
  /** Clients remembered at most; least recently asked forgotten first. Default 10_000. */
  maxEntries?: number;
  /** Unknown clients accepted (see {@link clientRefusal}). */
  acceptUnknown: boolean;
}

/**
 * The `client_id` check of the gateway and ingest: each (tenant, client)
 * row read once per `ttlMs` (RLS-scoped to the token's tenant, so a token
 * can only name a client of its own tenant), forgotten on TenantChanged.
 */
export function createClientDirectory(options: ClientDirectoryOptions) {
  const cache = new LRUCache<string, Promise<ApiClientRecord | null>>({ max: options.maxEntries ?? 10_000, ttl: options.ttlMs });
  const keyOf = (tenantId: string, clientId: string) => JSON.stringify([tenantId, clientId]);

  // One round trip: the function sets the tenant for row-level security and reads (gateway migration 007).
  async function read(tenantId: string, clientId: string): Promise<ApiClientRecord | null> {
    const { rows } = await options.pool.query<ApiClientRecord>('SELECT * FROM gateway_read_api_client($1, $2)', [tenantId, clientId]);
    return rows[0] ?? null;
  }

  function recordOf(tenantId: string, clientId: string): Promise<ApiClientRecord | null> {
    const key = keyOf(tenantId, clientId);
    const cached = cache.get(key);
    if (cached) return cached;
    const record = read(tenantId, clientId);
    cache.set(key, record);
    // A failed read is not remembered.
    record.catch(() => cache.get(key) === record && cache.delete(key));
    return record;
  }

  return {
    /** Why `principal` may not act as its client, or undefined when it may; rejects when the row cannot be read. */
    async refusalOf(principal: Pick<Principal, 'tenantId' | 'clientId' | 'scopes'>): Promise<ClientRefusal | undefined> {
      const record = await recordOf(principal.tenantId, principal.clientId);
      return clientRefusal(record ?? undefined, principal.scopes, options.acceptUnknown);
    },
    /** Drops the tenant's clients (TenantChanged). */
    forgetTenant(tenantId: string): void {
      for (const key of [...cache.keys()]) if ((JSON.parse(key) as string[])[0] === tenantId) cache.delete(key);
    },
    forgetAll(): void {
      cache.clear();
    },
  };
}

export type ClientDirectory = ReturnType<typeof createClientDirectory>;

/**
 * `GATEWAY_ACCEPT_UNKNOWN_CLIENTS` / `INGEST_ACCEPT_UNKNOWN_CLIENTS`: `true` or
 * `false`; unset means `true` outside production and `false` in it
 * (docs/runbooks/tenant-admin.md). Known clients are always checked.
 */
export const acceptUnknownClientsField = () => z.enum(['true', 'false']).optional();

/** The switch's value: unset follows NODE_ENV. */
export const acceptsUnknownClients = (value: 'true' | 'false' | undefined, nodeEnv: string | undefined): boolean =>
  value === undefined ? nodeEnv !== 'production' : value === 'true';

/** A config check: `true` is refused when NODE_ENV=production (every token must name a client of its tenant there). */
export function acceptUnknownClientsCheck<Key extends string>(key: Key) {
  return (config: Partial<Record<Key, 'true' | 'false'>> & { NODE_ENV?: string | undefined }, ctx: z.RefinementCtx) => {
    if (config.NODE_ENV === 'production' && config[key] === 'true')
      ctx.addIssue({ code: 'custom', path: [key], message: 'true is refused when NODE_ENV=production' });
  };
}
