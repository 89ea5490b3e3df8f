import { performance } from 'node:perf_hooks';
import type { SecurityMetrics } from '../createSecurityMetrics';
import type { Authorization, Authorizer } from '../policy/createAuthorizer';
import { assertReached, refusal, type GatewayStep, type RequestContext } from './GatewayStep';

/** Where audit rows of a tenant nobody could verify are filed (as for AUTH_DENY). */
const UNVERIFIED_TENANT = '-';

export interface PolicyOptions {
  /** Decides with the active OPA bundle; the step files the decision for the audit table. */
  authorize: Authorizer;
  /** `gateway_request_security_seconds` is observed here, when a request is allowed. */
  metrics: SecurityMetrics;
}

/**
 * The OPA decision over the verified token, the persisted operation and the
 * tenant's residency; a denial is FORBIDDEN with the reason code.
 *
 * Every decision is filed under each tenant the request touched
 * (docs/adr/0010-operator-residency.md). A denial touched nothing and a
 * subscription's tenant is in its variables: both are filed at once, under
 * the tenant the request acts for. An allowed query or mutation is filed
 * when the request ends (`onEnd`), under the tenants its variables name and
 * those the subgraphs report having returned or changed (an operator's
 * listing or by-id action names none), or under the token's own tenant when
 * there are none.
 */
export function usePolicy(options: PolicyOptions): GatewayStep {
  const unfiled = new WeakMap<RequestContext, Authorization['file']>();
  return {
    name: 'policy',
    onRequest(context) {
      assertReached(context, 'policy', 'principal', 'operation', 'tenantIds', 'tenant');
      const { tenant, tenantIds } = context;
      // An unregistered target is an id nobody verified: what is filed at once about it goes under '-'.
      const actsFor = tenant.record || tenantIds.length === 0 ? tenant.tenantId : UNVERIFIED_TENANT;
      const { verdict, file } = options.authorize({
        principal: context.principal,
        operation: context.operation,
        tenantIds,
        tenantResidency: tenant.residency,
        suspendedTenants: tenant.suspended,
        tenantId: actsFor,
        correlationId: context.correlationId,
        sourceIp: context.sourceIp,
      });
      if (!verdict.allow || context.operation.type === 'subscription') file([actsFor]);
      else unfiled.set(context, file);
      // A suspension is the tenant's state, not the caller's lack of a right: it has a code of its own.
      if (!verdict.allow)
        return refusal(
          verdict.reasonCode === 'TENANT_SUSPENDED' ? 'TENANT_SUSPENDED' : 'FORBIDDEN',
          `denied by policy: ${verdict.reasonCode}`,
          {
            reasonCode: verdict.reasonCode,
          },
        );
      options.metrics.requestSecuritySeconds.observe((performance.now() - context.receivedAtMs) / 1_000);
      return undefined;
    },
    onEnd(context) {
      const file = unfiled.get(context);
      if (!file) return;
      unfiled.delete(context);
      assertReached(context, 'policy', 'principal', 'tenantIds');
      const touched = new Set([...context.tenantIds, ...(context.tenantsTouched ?? [])]);
      file(touched.size > 0 ? [...touched] : [context.principal.tenantId]);
    },
  };
}
