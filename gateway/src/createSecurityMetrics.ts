import { Counter, Histogram, type Registry } from 'prom-client';

/** The gateway's security counters, on the process's /metrics registry. */
export function createSecurityMetrics(registry: Registry) {
  return {
    authDenials: new Counter({
      name: 'gateway_auth_denials_total',
      help: 'Requests refused with 401, by reason code.',
      labelNames: ['reason_code'] as const,
      registers: [registry],
    }),
    policyDecisions: new Counter({
      name: 'gateway_policy_decisions_total',
      help: 'Policy decisions, by outcome and reason code.',
      labelNames: ['allow', 'reason_code'] as const,
      registers: [registry],
    }),
    policyEvaluationSeconds: new Histogram({
      name: 'gateway_policy_evaluation_seconds',
      help: 'Time to evaluate one policy decision in the Wasm module.',
      buckets: [0.000_05, 0.000_1, 0.000_2, 0.000_5, 0.001, 0.005],
      registers: [registry],
    }),
    requestSecuritySeconds: new Histogram({
      name: 'gateway_request_security_seconds',
      help: 'Time an allowed /graphql request spends before execution: token, operation lookup, tenant residency, policy, decision queueing.',
      buckets: [0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025],
      registers: [registry],
    }),
    stepSeconds: new Histogram({
      name: 'gateway_step_seconds',
      help: "Time each pipeline step's check of a request takes (authentication, API client, persisted operation, tenant, policy, kill switch, limiter, cache lookup…), refused or not, by step.",
      labelNames: ['step'] as const,
      buckets: [0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025],
      registers: [registry],
    }),
    policyShadowDisagreements: new Counter({
      name: 'gateway_policy_shadow_disagreements_total',
      help: 'Decisions the shadow bundle (GATEWAY_SHADOW_BUNDLE_DIR) answered differently: change="allow_to_deny", "deny_to_allow" or "reason" (denied for another reason), by the shadow\'s reason code.',
      labelNames: ['change', 'reason_code'] as const,
      registers: [registry],
    }),
    policyShadowFailures: new Counter({
      name: 'gateway_policy_shadow_failures_total',
      help: 'Shadow bundle failures, never surfaced to a request: stage="activation" when the bundle was refused, "evaluation" when it failed on a request.',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
    decisionsDropped: new Counter({
      name: 'gateway_policy_decisions_dropped_total',
      help: 'Policy decisions dropped unwritten: reason="overflow" when the database was unavailable for too long, "refused" when it refused the values.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    securityEventsDropped: new Counter({
      name: 'gateway_security_events_dropped_total',
      help: 'Security events dropped unwritten: reason="overflow" when the queue was full, "refused" when Postgres refused the row.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    breakGlassRequests: new Counter({
      name: 'gateway_break_glass_requests_total',
      help: 'Requests that ran query text because break glass is on.',
      registers: [registry],
    }),
    artifactActivations: new Counter({
      name: 'gateway_artifact_activations_total',
      help: 'Activations of the persisted-query manifest and the policy bundle, at start and on reload, by artifact, outcome and refusal reason.',
      labelNames: ['artifact', 'outcome', 'reason'] as const,
      registers: [registry],
    }),
  };
}

export type SecurityMetrics = ReturnType<typeof createSecurityMetrics>;
