import { z } from 'zod';
import { tenantIdSchema } from './scalars';

/**
 * Postgres NOTIFY channel of `TenantChanged`: the tenant-admin store notifies
 * it in the transaction of each change, so listeners hear of a change only
 * once it has committed (docs/adr/0031-tenant-administration.md).
 */
export const TENANT_CHANGED_CHANNEL = 'tenant_changed';

/** What changed: the tenant's row (residency, weight, suspension, …), its API clients, or its comms settings. */
export const tenantChangeKinds = ['tenant', 'clients', 'comms'] as const;

/** `TenantChanged`: the payload of a {@link TENANT_CHANGED_CHANNEL} notification. Listeners re-read the tenant; nothing else is carried. */
export const tenantChangedSchema = z.strictObject({
  tenantId: tenantIdSchema,
  kind: z.enum(tenantChangeKinds),
});
export type TenantChanged = z.output<typeof tenantChangedSchema>;
