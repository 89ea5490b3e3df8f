import type { Principal } from '@coherence/auth';
import { POLICY_REASON_CODES } from '@coherence/contracts';
import type { SecurityEventWriter } from '@coherence/platform';
import { buildPolicyInput, type DecisionRecorder, type PolicyEngine, type PolicyVerdict } from '@coherence/policy';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { SecurityMetrics } from '../createSecurityMetrics';
import type { GatewayOperation } from '../persisted/createPersistedOperations';
import type { ShadowPolicy } from './createShadowPolicy';

export interface AuthorizerOptions {
  policy: PolicyEngine;
  /** Where decisions and security events are queued; absent, nothing is audited (the fan-out benchmark's endpoint). */
  audit?: { decisions: DecisionRecorder; events: SecurityEventWriter };
  metrics: SecurityMetrics;
  region: string;
  pausedScopes: readonly string[];
  /** GATEWAY_SHADOW_BUNDLE_DIR's bundle, asked after the live decision; absent, no shadow. */
  shadow?: ShadowPolicy | undefined;
}

export interface AuthorizationRequest {
  principal: Principal;
  operation: GatewayOperation;
  /** The tenant ids the variables touch (already read from the operation's shape). */
  tenantIds: string[];
  /** Residency of the registered tenants among `tenantIds`. */
  tenantResidency: ReadonlyMap<string, string>;
  /** The suspended tenants among `tenantIds`. */
  suspendedTenants: readonly string[];
  /**
   * The tenant the request acts for (the first one touched, or the token's
   * own): a security event is filed under it. '-' when the first one touched
   * is not registered: an id nobody verified must not open audit rows under
   * any name a caller picks.
   */
  tenantId: string;
  correlationId: string;
  sourceIp: string;
}

/** Denials that are also security events: someone reached for data that is not theirs to read here. */
const securityEventKinds = {
  [POLICY_REASON_CODES.TENANT_MISMATCH]: 'TENANT_MISMATCH',
  [POLICY_REASON_CODES.RESIDENCY_VIOLATION]: 'RESIDENCY_VIOLATION',
} as const;

const MAX_EXPLANATION_LENGTH = 2_048;

/** A decision, and how to file it for the audit table. */
export interface Authorization {
  verdict: PolicyVerdict;
  /**
   * Queues the decision for the audit table under each of `tenantIds` (one row
   * per tenant, each with its own decision id, all with the request's
   * correlation id). Call it once.
   */
  file(tenantIds: readonly string[]): void;
}

/**
 * Decides one request with the active policy bundle; the caller files the
 * decision (usePolicy: at once, or once it knows the tenants the request
 * touched). Denials for another tenant or region are also security events.
 */
export function createAuthorizer(options: AuthorizerOptions) {
  return function authorize(request: AuthorizationRequest): Authorization {
    const { principal, operation, tenantIds, tenantResidency, suspendedTenants, tenantId } = request;
    const input = buildPolicyInput({
      principal,
      operation: { id: operation.id, type: operation.type, rootFields: operation.shape.rootFields },
      tenantIds,
      tenantResidency,
      suspendedTenants,
      region: options.region,
      pausedScopes: options.pausedScopes,
    });
    const startedAt = performance.now();
    const verdict = options.policy.decide(input);
    options.metrics.policyEvaluationSeconds.observe((performance.now() - startedAt) / 1_000);
    options.metrics.policyDecisions.inc({ allow: String(verdict.allow), reason_code: verdict.reasonCode });
    // After the live decision, which it never changes (docs/adr/0027-policy-simulation.md).
    const shadow = options.shadow?.compare(input, verdict);

    const decidedAt = new Date().toISOString();
    if (!options.audit) return { verdict, file: () => undefined };
    const { decisions, events } = options.audit;
    const file = (filedUnder: readonly string[]) => {
      for (const filedTenantId of filedUnder)
        decisions.record({
          decisionId: randomUUID(),
          tenantId: filedTenantId,
          subject: principal.subject,
          clientId: principal.clientId,
          operationId: operation.id,
          operationType: operation.type,
          allow: verdict.allow,
          reasonCode: verdict.reasonCode,
          explanation: verdict.explanation.slice(0, MAX_EXPLANATION_LENGTH),
          bundleSha256: verdict.bundleSha256,
          correlationId: request.correlationId,
          decidedAt,
          input,
          shadow,
        });
    };

    const kind = securityEventKinds[verdict.reasonCode as keyof typeof securityEventKinds];
    if (kind) {
      events.record({
        kind,
        tenantId,
        service: 'gateway',
        subject: principal.subject,
        clientId: principal.clientId,
        reason: verdict.explanation,
        sourceIp: request.sourceIp,
        correlationId: request.correlationId,
        details: { operationId: operation.id, tokenTenant: principal.tenantId, tenantIds },
      });
    }
    return { verdict, file };
  };
}

export type Authorizer = ReturnType<typeof createAuthorizer>;
