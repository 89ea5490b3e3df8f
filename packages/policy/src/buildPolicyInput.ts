import type { Principal } from '@coherence/auth';
import { policyOperationTypeSchema, type PolicyOperationType } from '@coherence/contracts';
import { z } from 'zod';

/**
 * The input document of `data.coherence.authz.decision` (policy/src/authz.rego
 * describes each part). Strict: it is also what `policy_decisions.input`
 * keeps, and a key nobody listed here (a token, a claim) must not reach it.
 */
export const policyInputSchema = z.strictObject({
  principal: z.strictObject({ subject: z.string(), tenant: z.string(), scopes: z.array(z.string()), residency: z.array(z.string()) }),
  operation: z.strictObject({ id: z.string(), type: policyOperationTypeSchema, rootFields: z.array(z.string()) }),
  tenantIds: z.array(z.string()),
  tenantResidency: z.record(z.string(), z.string()),
  region: z.string(),
  pausedScopes: z.array(z.string()),
  /** Optional: decisions recorded before policy 1.4.0 have none. */
  suspendedTenants: z.array(z.string()).optional(),
});
export type PolicyInput = z.output<typeof policyInputSchema>;

export interface PolicyInputParts {
  /** The verified token's, or the service's that acts for a tenant (the ingest consumer). */
  principal: Pick<Principal, 'subject' | 'tenantId' | 'scopes' | 'residency'>;
  operation: { id: string; type: PolicyOperationType; rootFields: string[] };
  tenantIds: string[];
  /** Residency of the registered tenants among `tenantIds`; unregistered ones are simply absent. */
  tenantResidency: ReadonlyMap<string, string>;
  region: string;
  pausedScopes: readonly string[];
  /** The suspended tenants among `tenantIds`. */
  suspendedTenants: readonly string[];
}

/** Built only from the verified principal, the persisted operation (or the ingest write), the variables and server-side data: never from query text. */
export function buildPolicyInput(parts: PolicyInputParts): PolicyInput {
  return {
    principal: {
      subject: parts.principal.subject,
      tenant: parts.principal.tenantId,
      scopes: [...parts.principal.scopes],
      residency: [...parts.principal.residency],
    },
    operation: { id: parts.operation.id, type: parts.operation.type, rootFields: [...parts.operation.rootFields] },
    tenantIds: [...parts.tenantIds],
    tenantResidency: Object.fromEntries(parts.tenantResidency),
    region: parts.region,
    pausedScopes: [...parts.pausedScopes],
    suspendedTenants: [...parts.suspendedTenants],
  };
}
