import type { Principal } from '@coherence/auth';
import { POLICY_REASON_CODES } from '@coherence/contracts';
import type { SecurityEventWriter } from '@coherence/platform';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { SecurityMetrics } from '../createSecurityMetrics';
import type { GatewayOperation } from '../persisted/createPersistedOperations';
import { buildPolicyInput } from './buildPolicyInput';
import type { DecisionRecorder } from './createDecisionRecorder';
import type { PolicyEngine, PolicyVerdict } from './createPolicyEngine';

export interface AuthorizerOptions {
  policy: PolicyEngine;
  /** Where decisions and security events are queued; absent, nothing is audited (the fan-out benchmark's endpoint). */
  audit?: { decisions: DecisionRecorder; events: SecurityEventWriter };
  metrics: SecurityMetrics;
  region: string;
  pausedScopes: readonly string[];
}

export interface AuthorizationRequest {
  principal: Principal;
  operation: GatewayOperation;
  /** The tenant ids the variables touch (already read from the operation's shape). */
  tenantIds: string[];
  /** Residency of the registered tenants among `tenantIds`. */
  tenantResidency: ReadonlyMap<string, string>;
  /**
   * The tenant the decision is filed under: the first one touched, or the
   * token's own; '-' when the first one touched is not registered (an id
   * nobody verified must not open audit rows under any name a caller picks).
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

/**
 * Decides one request with the active policy bundle and queues the decision
 * for the audit table, filed under the request's tenant.
 */
export function createAuthorizer(options: AuthorizerOptions) {
  return function authorize(request: AuthorizationRequest): PolicyVerdict {
    const { principal, operation, tenantIds, tenantResidency, tenantId } = request;
    const input = buildPolicyInput({
      principal,
      operation: { id: operation.id, type: operation.type, rootFields: operation.shape.rootFields },
      tenantIds,
      tenantResidency,
      region: options.region,
      pausedScopes: options.pausedScopes,
    });
    const startedAt = performance.now();
    const verdict = options.policy.decide(input);
    options.metrics.policyEvaluationSeconds.observe((performance.now() - startedAt) / 1_000);
    options.metrics.policyDecisions.inc({ allow: String(verdict.allow), reason_code: verdict.reasonCode });

    if (!options.audit) return verdict;
    const { decisions, events } = options.audit;
    decisions.record({
      decisionId: randomUUID(),
      tenantId,
      subject: principal.subject,
      clientId: principal.clientId,
      operationId: operation.id,
      operationType: operation.type,
      allow: verdict.allow,
      reasonCode: verdict.reasonCode,
      explanation: verdict.explanation.slice(0, MAX_EXPLANATION_LENGTH),
      bundleSha256: verdict.bundleSha256,
      correlationId: request.correlationId,
      decidedAt: new Date().toISOString(),
    });

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
    return verdict;
  };
}

export type Authorizer = ReturnType<typeof createAuthorizer>;
