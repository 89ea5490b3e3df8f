import { TENANT_CHANGED_CHANNEL, tenantIdSchema, type TenantChanged } from '@coherence/contracts';
import { canonicalJson, inTransaction, setTenant, type PgClient, type PgPool } from '@coherence/platform';
import type { SsrfGuard } from '../../delivery/createSsrfGuard';
import { checkWebhookUrl } from './checkWebhookUrl';
import {
  apiClientSchema,
  contactSchema,
  newTenantSchema,
  parseAdminInput,
  quietHoursSchema,
  TenantAdminError,
  tenantSettingsSchema,
  type ApiClient,
  type Contact,
  type QuietHours,
} from './tenantAdminInput';

/** A tenant as the admin API shows it (and as its audit rows record it). */
export interface Tenant {
  tenantId: string;
  name: string;
  residency: string;
  region: string | null;
  weight: number;
  cacheTtlSeconds: number | null;
  rateShare: number | null;
  budgetUnits: number | null;
  /** ISO-8601 while suspended, null otherwise. */
  suspendedAt: string | null;
}

export interface TenantAuditEntry {
  auditId: string;
  tenantId: string;
  actor: string;
  action: string;
  before: unknown;
  after: unknown;
  occurredAt: Date;
}

interface TenantRow {
  tenant_id: string;
  name: string;
  residency: string;
  region: string | null;
  weight: string;
  cache_ttl_seconds: number | null;
  rate_share: string | null;
  budget_units: string | null;
  suspended_at: Date | null;
}

const TENANT_COLUMNS = 'tenant_id, name, residency, region, weight, cache_ttl_seconds, rate_share, budget_units, suspended_at';

function toTenant(row: TenantRow): Tenant {
  return {
    tenantId: row.tenant_id,
    name: row.name,
    residency: row.residency,
    region: row.region,
    weight: Number(row.weight),
    cacheTtlSeconds: row.cache_ttl_seconds,
    rateShare: row.rate_share === null ? null : Number(row.rate_share),
    budgetUnits: row.budget_units === null ? null : Number(row.budget_units),
    suspendedAt: row.suspended_at?.toISOString() ?? null,
  };
}

/** What one change did: the object before and after (null when it did not exist), and what the caller gets back. */
interface Change<Result> {
  before: unknown;
  after: unknown;
  result: Result;
}

export interface TenantAdminStoreOptions {
  /** Connects as comms_admin (docs/adr/0015-service-roles.md). */
  pool: PgPool;
  /** The delivery guard: contacts it would refuse are refused when written. */
  guard: Pick<SsrfGuard, 'refusedRange'>;
}

/**
 * Tenants, their API clients, quiet hours and contacts, written by platform
 * admins (docs/adr/0031-tenant-administration.md). Each change is one
 * transaction scoped to its tenant (RLS) that also appends its audit row
 * (who, what, before, after) and notifies `TenantChanged`, so the change,
 * its record and its announcement commit together or not at all. A change
 * that changes nothing is neither audited nor announced.
 */
export function createTenantAdminStore(options: TenantAdminStoreOptions) {
  const { pool } = options;

  async function change<Result>(
    actor: string,
    tenantId: string,
    action: string,
    kind: TenantChanged['kind'],
    work: (client: PgClient) => Promise<Change<Result>>,
  ): Promise<Result> {
    const id = parseAdminInput(tenantIdSchema, tenantId, 'tenantId');
    return inTransaction(pool, async (client) => {
      await setTenant(client, id);
      const { before, after, result } = await work(client);
      if (canonicalJson(before) === canonicalJson(after)) return result;
      await client.query('INSERT INTO tenant_audit (tenant_id, actor, action, before, after) VALUES ($1, $2, $3, $4, $5)', [
        id,
        actor,
        action,
        before === null ? null : JSON.stringify(before),
        after === null ? null : JSON.stringify(after),
      ]);
      const notice: TenantChanged = { tenantId: id, kind };
      await client.query('SELECT pg_notify($1, $2)', [TENANT_CHANGED_CHANNEL, JSON.stringify(notice)]);
      return result;
    });
  }

  /** The tenant's row, locked for this transaction's change; TENANT_NOT_FOUND without one. */
  async function lockedTenant(client: PgClient, tenantId: string): Promise<Tenant> {
    const { rows } = await client.query<TenantRow>(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE tenant_id = $1 FOR UPDATE`, [tenantId]);
    if (!rows[0]) throw new TenantAdminError('TENANT_NOT_FOUND', 'tenantId', `no tenant ${tenantId}`);
    return toTenant(rows[0]);
  }

  async function writeTenant(client: PgClient, tenant: Tenant): Promise<Tenant> {
    const { rows } = await client.query<TenantRow>(
      `UPDATE tenants SET name = $2, residency = $3, region = $4, weight = $5, cache_ttl_seconds = $6, rate_share = $7,
         budget_units = $8, suspended_at = $9, updated_at = now()
       WHERE tenant_id = $1 RETURNING ${TENANT_COLUMNS}`,
      [
        tenant.tenantId,
        tenant.name,
        tenant.residency,
        tenant.region,
        tenant.weight,
        tenant.cacheTtlSeconds,
        tenant.rateShare,
        tenant.budgetUnits,
        tenant.suspendedAt,
      ],
    );
    return toTenant(rows[0]!);
  }

  /** Suspends the tenant (keeping the first suspension time if it already is) or resumes it. */
  const setSuspension = (actor: string, tenantId: string, suspend: boolean) =>
    change(actor, tenantId, suspend ? 'suspend' : 'resume', 'tenant', async (client) => {
      const before = await lockedTenant(client, tenantId);
      const suspendedAt = suspend ? (before.suspendedAt ?? new Date().toISOString()) : null;
      const after = suspendedAt === before.suspendedAt ? before : await writeTenant(client, { ...before, suspendedAt });
      return { before, after, result: after };
    });

  async function contactsOf(client: PgClient, tenantId: string): Promise<Contact[]> {
    const { rows } = await client.query<Contact>(
      `SELECT contact_id AS "contactId", url FROM comms_contacts WHERE tenant_id = $1 AND channel = 'webhook' ORDER BY contact_id`,
      [tenantId],
    );
    return rows;
  }

  async function quietHoursOf(client: PgClient, tenantId: string): Promise<QuietHours | null> {
    const { rows } = await client.query<QuietHours>(
      `SELECT time_zone AS "timeZone", to_char(starts_at, 'HH24:MI') AS "startsAt", to_char(ends_at, 'HH24:MI') AS "endsAt"
       FROM comms_quiet_hours WHERE tenant_id = $1`,
      [tenantId],
    );
    return rows[0] ?? null;
  }

  async function apiClientsOf(client: PgClient, tenantId: string): Promise<ApiClient[]> {
    const { rows } = await client.query<ApiClient>(
      `SELECT client_id AS "clientId", scopes, enabled FROM api_clients WHERE tenant_id = $1 ORDER BY client_id`,
      [tenantId],
    );
    return rows;
  }

  /** Reads of one tenant, in one RLS-scoped transaction. */
  const read = <T>(tenantId: string, work: (client: PgClient, id: string) => Promise<T>) => {
    const id = parseAdminInput(tenantIdSchema, tenantId, 'tenantId');
    return inTransaction(pool, async (client) => {
      await setTenant(client, id);
      return work(client, id);
    });
  };

  return {
    async createTenant(actor: string, input: unknown): Promise<Tenant> {
      const { tenantId, settings } = parseAdminInput(newTenantSchema, input);
      return change(actor, tenantId, 'create', 'tenant', async (client) => {
        const { rows } = await client.query<TenantRow>(
          `INSERT INTO tenants (tenant_id, name, residency, region, weight, cache_ttl_seconds, rate_share, budget_units)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id) DO NOTHING RETURNING ${TENANT_COLUMNS}`,
          [
            tenantId,
            settings.name ?? '',
            settings.residency,
            settings.region ?? null,
            settings.weight ?? 1,
            settings.cacheTtlSeconds ?? null,
            settings.rateShare ?? null,
            settings.budgetUnits ?? null,
          ],
        );
        if (!rows[0]) throw new TenantAdminError('TENANT_EXISTS', 'tenantId', `tenant ${tenantId} exists`);
        const after = toTenant(rows[0]);
        return { before: null, after, result: after };
      });
    },

    /** Changes the settings given; absent ones are kept, null ones go back to their default. */
    updateTenant: (actor: string, tenantId: string, input: unknown) =>
      change(actor, tenantId, 'update', 'tenant', async (client) => {
        const settings = parseAdminInput(tenantSettingsSchema, input, 'settings');
        const before = await lockedTenant(client, tenantId);
        const defined = Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
        const after = await writeTenant(client, { ...before, ...defined });
        return { before, after, result: after };
      }),

    suspendTenant: (actor: string, tenantId: string) => setSuspension(actor, tenantId, true),
    resumeTenant: (actor: string, tenantId: string) => setSuspension(actor, tenantId, false),

    /** Sets the tenant's quiet hours, or removes them (null). */
    setQuietHours: (actor: string, tenantId: string, input: unknown) =>
      change(actor, tenantId, 'set_quiet_hours', 'comms', async (client) => {
        const quietHours = input === null ? null : parseAdminInput(quietHoursSchema, input, 'quietHours');
        await lockedTenant(client, tenantId);
        const before = await quietHoursOf(client, tenantId);
        if (quietHours)
          await client.query(
            `INSERT INTO comms_quiet_hours (tenant_id, time_zone, starts_at, ends_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id) DO UPDATE SET time_zone = EXCLUDED.time_zone, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at`,
            [tenantId, quietHours.timeZone, quietHours.startsAt, quietHours.endsAt],
          );
        else await client.query('DELETE FROM comms_quiet_hours WHERE tenant_id = $1', [tenantId]);
        return { before, after: quietHours, result: quietHours };
      }),

    /** Adds or replaces a webhook contact; its URL must be one deliveries may reach (SSRF guard). */
    async putContact(actor: string, tenantId: string, input: unknown): Promise<Contact> {
      const contact = parseAdminInput(contactSchema, input, 'contact');
      await checkWebhookUrl(options.guard, contact.url, 'contact.url');
      return change(actor, tenantId, 'put_contact', 'comms', async (client) => {
        await lockedTenant(client, tenantId);
        const { rows } = await client.query<Contact>(
          `SELECT contact_id AS "contactId", url FROM comms_contacts WHERE tenant_id = $1 AND contact_id = $2`,
          [tenantId, contact.contactId],
        );
        await client.query(
          `INSERT INTO comms_contacts (tenant_id, contact_id, channel, url) VALUES ($1, $2, 'webhook', $3)
           ON CONFLICT (tenant_id, contact_id) DO UPDATE SET channel = 'webhook', url = EXCLUDED.url`,
          [tenantId, contact.contactId, contact.url],
        );
        return { before: rows[0] ?? null, after: contact, result: contact };
      });
    },

    /** Removes a contact; true when there was one. */
    removeContact: (actor: string, tenantId: string, contactId: string) =>
      change(actor, tenantId, 'remove_contact', 'comms', async (client) => {
        await lockedTenant(client, tenantId);
        const { rows } = await client.query<Contact>(
          `DELETE FROM comms_contacts WHERE tenant_id = $1 AND contact_id = $2 RETURNING contact_id AS "contactId", url`,
          [tenantId, contactId],
        );
        return { before: rows[0] ?? null, after: null, result: rows.length > 0 };
      }),

    /** Adds or replaces an API client: its allowed scopes and whether tokens naming it are accepted. */
    putApiClient: (actor: string, tenantId: string, input: unknown) =>
      change(actor, tenantId, 'put_api_client', 'clients', async (client) => {
        const apiClient = parseAdminInput(apiClientSchema, input, 'client');
        const scopes = [...new Set(apiClient.scopes)].sort();
        await lockedTenant(client, tenantId);
        const { rows } = await client.query<ApiClient>(
          `SELECT client_id AS "clientId", scopes, enabled FROM api_clients WHERE tenant_id = $1 AND client_id = $2`,
          [tenantId, apiClient.clientId],
        );
        await client.query(
          `INSERT INTO api_clients (tenant_id, client_id, scopes, enabled) VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant_id, client_id) DO UPDATE SET scopes = EXCLUDED.scopes, enabled = EXCLUDED.enabled, updated_at = now()`,
          [tenantId, apiClient.clientId, scopes, apiClient.enabled],
        );
        const after = { ...apiClient, scopes };
        return { before: rows[0] ?? null, after, result: after };
      }),

    /** The tenant, or undefined when there is none. */
    tenant: (tenantId: string) =>
      read(tenantId, async (client, id) => {
        const { rows } = await client.query<TenantRow>(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE tenant_id = $1`, [id]);
        return rows[0] && toTenant(rows[0]);
      }),
    contacts: (tenantId: string) => read(tenantId, contactsOf),
    quietHours: (tenantId: string) => read(tenantId, quietHoursOf),
    apiClients: (tenantId: string) => read(tenantId, apiClientsOf),

    /** The tenant's audit trail, newest first. */
    audit: (tenantId: string, limit = 100) =>
      read(tenantId, async (client, id) => {
        const { rows } = await client.query<TenantAuditEntry>(
          `SELECT audit_id::text AS "auditId", tenant_id AS "tenantId", actor, action, before, after, occurred_at AS "occurredAt"
           FROM tenant_audit WHERE tenant_id = $1 ORDER BY audit_id DESC LIMIT $2`,
          [id, Math.min(Math.max(limit, 1), 1_000)],
        );
        return rows;
      }),
  };
}

export type TenantAdminStore = ReturnType<typeof createTenantAdminStore>;
