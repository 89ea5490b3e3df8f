import type { TenantRecord } from '@coherence/policy';
import { assertReached, type GatewayStep } from './GatewayStep';

/** Where tenants' rows come from: the gateway's cached `tenants` table, or a fixed answer in the fan-out benchmark. */
export interface TenantSource {
  /** The rows of the registered tenants among `tenantIds`; unregistered ones are absent. */
  recordsOf(tenantIds: readonly string[]): Promise<ReadonlyMap<string, TenantRecord>>;
}

/**
 * Reads the request's tenant rows once and sets `tenant`: residency for the
 * policy, weight for the limiter, TTL override for the cache. The request
 * acts for the first tenant it touches, or the token's own when it touches
 * none.
 */
export function useTenant(options: { tenants: TenantSource }): GatewayStep {
  return {
    name: 'tenant',
    span: false,
    async onRequest(context) {
      assertReached(context, 'tenant', 'principal', 'tenantIds');
      const { tenantIds } = context;
      const tenantId = tenantIds[0] ?? context.principal.tenantId;
      const records = await options.tenants.recordsOf(tenantIds.length > 0 ? tenantIds : [tenantId]);
      const residency = new Map<string, string>();
      const suspended: string[] = [];
      for (const id of tenantIds) {
        const record = records.get(id);
        if (record) residency.set(id, record.residency);
        if (record?.suspended) suspended.push(id);
      }
      context.tenant = { tenantId, record: records.get(tenantId), residency, suspended };
      return undefined;
    },
  };
}
