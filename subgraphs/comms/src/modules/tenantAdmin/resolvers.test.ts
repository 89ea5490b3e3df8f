import { expect, it } from 'vitest';
import { tenantAdminResolvers, type TenantAdminContext } from './resolvers';

/** What the gateway's e2e test (e2e/tenantAdmin.e2e.ts) cannot reach: a comms started without the admin database. */
const withoutAdminDatabase = { tenantAdmin: undefined, adminActor: 'admin:alice', caller: { region: 'us' } } as TenantAdminContext;

it('answers every field TENANT_ADMIN_DISABLED when comms has no COMMS_ADMIN_DATABASE_URL', async () => {
  const fields = { ...tenantAdminResolvers.Query, ...tenantAdminResolvers.Mutation };
  for (const [name, resolve] of Object.entries(fields))
    expect(await resolve(undefined, { tenantId: 'acme' } as never, withoutAdminDatabase), name).toMatchObject({
      error: { code: 'TENANT_ADMIN_DISABLED', field: '(service)' },
    });
});
