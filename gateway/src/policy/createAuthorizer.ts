import type { Principal } from '@coherence/auth';
import { POLICY_REASON_CODES } from '@coherence/contracts';
import { recordSecurityEvent, type Logger, type PgPool } from '@coherence/platform';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { SecurityMetrics } from '../createSecurityMetrics';
import type { GatewayOperation } from '../persisted/createPersistedOperations';
import type { TenantDirectory } from '../tenants/createTenantDirectory';
import { buildPolicyInput } from './buildPolicyInput';
import type { DecisionRecorder } from './createDecisionRecorder';
import type { PolicyEngine, PolicyVerdict } from './createPolicyEngine';

export interface AuthorizerOptions {
  policy: PolicyEngine;
  tenants: TenantDirectory;
  decisions: DecisionRecorder;
  pool: PgPool;
  logger: Logger;
  metrics: SecurityMetrics;
  region: string;
  pausedScopes: readonly string[];
}

export interface AuthorizationRequest {
  principal: Principal;
  operation: GatewayOperation;
  /** The tenant ids the variables touch (already read from the operation's shape). */
  tenantIds: string[];
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
 * for the audit table. The decision is filed under the first tenant the
 * operation touches, or the token's tenant when it touches none.
 */
export function createAuthorizer(options: AuthorizerOptions) {
  return async function authorize(request: AuthorizationRequest): Promise<PolicyVerdict> {
    const { principal, operation, tenantIds } = request;
    const tenantResidency = await options.tenants.residencyOf(tenantIds);
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

    const tenantId = tenantIds[0] ?? principal.tenantId;
    options.decisions.record({
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
      await recordSecurityEvent(options.pool, {
        kind,
        tenantId,
        service: 'gateway',
        subject: principal.subject,
        clientId: principal.clientId,
        reason: verdict.explanation,
        sourceIp: request.sourceIp,
        correlationId: request.correlationId,
        details: { operationId: operation.id, tokenTenant: principal.tenantId, tenantIds },
      }).catch((error: unknown) => options.logger.error({ err: error, kind }, 'recording a security event failed'));
    }
    return verdict;
  };
}

export type Authorizer = ReturnType<typeof createAuthorizer>;
