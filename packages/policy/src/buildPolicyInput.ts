import type { Principal } from '@coherence/auth';
import type { PolicyOperationType } from '@coherence/contracts';

/** The input document of `data.coherence.authz.decision` (policy/src/authz.rego describes each part). */
export interface PolicyInput {
  principal: { subject: string; tenant: string; scopes: string[]; residency: string[] };
  operation: { id: string; type: PolicyOperationType; rootFields: string[] };
  tenantIds: string[];
  tenantResidency: Record<string, string>;
  region: string;
  pausedScopes: string[];
}

export interface PolicyInputParts {
  /** The verified token's, or the service's that acts for a tenant (the ingest consumer). */
  principal: Pick<Principal, 'subject' | 'tenantId' | 'scopes' | 'residency'>;
  operation: { id: string; type: PolicyOperationType; rootFields: string[] };
  tenantIds: string[];
  /** Residency of the registered tenants among `tenantIds`; unregistered ones are simply absent. */
  tenantResidency: ReadonlyMap<string, string>;
  region: string;
  pausedScopes: readonly string[];
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
  };
}
