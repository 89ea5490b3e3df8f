import { performance } from 'node:perf_hooks';
import type { SecurityMetrics } from '../createSecurityMetrics';
import type { Authorizer } from '../policy/createAuthorizer';
import { assertReached, refusal, type GatewayStep } from './GatewayStep';

/** Where audit rows of a tenant nobody could verify are filed (as for AUTH_DENY). */
const UNVERIFIED_TENANT = '-';

export interface PolicyOptions {
  /** Decides with the active OPA bundle and queues the decision for the audit table. */
  authorize: Authorizer;
  /** `gateway_request_security_seconds` is observed here, when a request is allowed. */
  metrics: SecurityMetrics;
}

/** The OPA decision over the verified token, the persisted operation and the tenant's residency; a denial is FORBIDDEN with the reason code. */
export function usePolicy(options: PolicyOptions): GatewayStep {
  return {
    name: 'policy',
    onRequest(context) {
      assertReached(context, 'policy', 'principal', 'operation', 'tenantIds', 'tenant');
      const { tenant, tenantIds } = context;
      const verdict = options.authorize({
        principal: context.principal,
        operation: context.operation,
        tenantIds,
        tenantResidency: tenant.residency,
        // An unregistered target is an id nobody verified: its decision is filed under '-'.
        tenantId: tenant.record || tenantIds.length === 0 ? tenant.tenantId : UNVERIFIED_TENANT,
        correlationId: context.correlationId,
        sourceIp: context.sourceIp,
      });
      if (!verdict.allow) return refusal('FORBIDDEN', `denied by policy: ${verdict.reasonCode}`, { reasonCode: verdict.reasonCode });
      options.metrics.requestSecuritySeconds.observe((performance.now() - context.receivedAtMs) / 1_000);
      return undefined;
    },
  };
}
