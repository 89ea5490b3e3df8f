import type { SubgraphContext } from '@coherence/platform';
import type { Tenant, TenantAdminStore } from './createTenantAdminStore';
import { TenantAdminError, tenantAdminErrorCodes } from './tenantAdminInput';

export type TenantAdminContext = SubgraphContext & {
  /** Undefined when this comms has no COMMS_ADMIN_DATABASE_URL: every field answers TENANT_ADMIN_DISABLED. */
  tenantAdmin: TenantAdminStore | undefined;
  /** `admin:<subject>` of the token the gateway verified: the audit's "who". */
  adminActor: string;
};

const disabled = {
  error: { code: 'TENANT_ADMIN_DISABLED', field: '(service)', message: tenantAdminErrorCodes.TENANT_ADMIN_DISABLED },
};

/**
 * Runs one store call and answers its result under `key`, or the refusal as
 * the payload's typed error (code and field); anything else is unexpected
 * and masked by the subgraph.
 */
function answer<Args, Result>(key: string, work: (store: TenantAdminStore, args: Args, actor: string, region: string) => Promise<Result>) {
  return async (_: unknown, args: Args, context: TenantAdminContext) => {
    if (!context.tenantAdmin) return disabled;
    try {
      return { [key]: await work(context.tenantAdmin, args, context.adminActor, context.caller.region) };
    } catch (error) {
      if (error instanceof TenantAdminError) return { error: { code: error.code, field: error.field, message: error.message } };
      throw error;
    }
  };
}

async function existingTenant(store: TenantAdminStore, tenantId: string): Promise<Tenant> {
  const tenant = await store.tenant(tenantId);
  if (!tenant) throw new TenantAdminError('TENANT_NOT_FOUND', 'tenantId', `no tenant ${tenantId}`);
  return tenant;
}

type TenantId = { tenantId: string };
/** As GraphQL hands the input over; the store parses it. */
type TenantSettings = { residency?: unknown };

/**
 * A tenant is created (or moved) through the gateway of the region it resides
 * in: the policy lets a gateway administer its own region's tenants only, so
 * one residing elsewhere could not be administered from here afterwards.
 */
function residesHere(settings: TenantSettings, region: string): void {
  if (settings.residency !== undefined && settings.residency !== region)
    throw new TenantAdminError('INVALID_INPUT', 'settings.residency', `Must be ${region}, the region of the gateway that administers it`);
}

export const tenantAdminResolvers = {
  Query: {
    tenant: answer('tenant', (store, { tenantId }: TenantId) => existingTenant(store, tenantId)),
    tenantAudit: answer('entries', async (store, { tenantId, first }: TenantId & { first?: number | null }) => {
      await existingTenant(store, tenantId);
      const size = first ?? 100;
      if (!Number.isInteger(size) || size < 1 || size > 1_000) throw new TenantAdminError('INVALID_INPUT', 'first', 'Must be 1..1000');
      const entries = await store.audit(tenantId, size);
      return entries.map((entry) => ({
        id: entry.auditId,
        tenantId: entry.tenantId,
        actor: entry.actor,
        action: entry.action,
        beforeJson: entry.before === null ? null : JSON.stringify(entry.before),
        afterJson: entry.after === null ? null : JSON.stringify(entry.after),
        at: entry.occurredAt.toISOString(),
      }));
    }),
  },
  Mutation: {
    createTenant: answer('tenant', (store, { input }: { input: { settings: TenantSettings } }, actor, region) => {
      residesHere(input.settings, region);
      return store.createTenant(actor, input);
    }),
    updateTenant: answer('tenant', (store, { tenantId, settings }: TenantId & { settings: TenantSettings }, actor, region) => {
      residesHere(settings, region);
      return store.updateTenant(actor, tenantId, settings);
    }),
    suspendTenant: answer('tenant', (store, { tenantId }: TenantId, actor) => store.suspendTenant(actor, tenantId)),
    resumeTenant: answer('tenant', (store, { tenantId }: TenantId, actor) => store.resumeTenant(actor, tenantId)),
    setQuietHours: answer('quietHours', (store, { tenantId, quietHours }: TenantId & { quietHours: unknown }, actor) =>
      store.setQuietHours(actor, tenantId, quietHours),
    ),
    putContact: answer('contact', (store, { tenantId, contact }: TenantId & { contact: unknown }, actor) =>
      store.putContact(actor, tenantId, contact),
    ),
    removeContact: answer('removed', (store, { tenantId, contactId }: TenantId & { contactId: string }, actor) =>
      store.removeContact(actor, tenantId, contactId),
    ),
    putApiClient: answer('apiClient', (store, { tenantId, client }: TenantId & { client: unknown }, actor) =>
      store.putApiClient(actor, tenantId, client),
    ),
  },
  // A tenant's parts are read only when asked for (the store is there: the tenant came from it).
  Tenant: {
    quietHours: (tenant: Tenant, _: unknown, context: TenantAdminContext) => context.tenantAdmin!.quietHours(tenant.tenantId),
    contacts: (tenant: Tenant, _: unknown, context: TenantAdminContext) => context.tenantAdmin!.contacts(tenant.tenantId),
    apiClients: (tenant: Tenant, _: unknown, context: TenantAdminContext) => context.tenantAdmin!.apiClients(tenant.tenantId),
  },
};
