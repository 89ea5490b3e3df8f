import type { SecurityEventWriter } from '@coherence/platform';
import type { SecurityMetrics } from '../createSecurityMetrics';

export interface AuthDenialRecorderOptions {
  /** The gateway's batched security-event writer: a denial is queued, never awaited. */
  events: SecurityEventWriter;
  metrics: SecurityMetrics;
}

export interface AuthDenial {
  /** The token error code (or TOKEN_IN_QUERY_STRING). */
  code: string;
  detail: string;
  sourceIp: string;
  correlationId: string;
  /** The client's `x-request-id`, kept beside the gateway's correlation id. */
  clientRequestId?: string;
  userAgent: string | null;
}

/**
 * Queues a refused authentication as an AUTH_DENY security event (who, why,
 * when, from where) and counts it. Unverified claims are not trusted, so the
 * event is filed under tenant '-'. Queued, not written per request: a flood
 * of bad tokens from one address becomes one aggregated row per write
 * (`details.count`). HTTP requests and WebSocket connections are refused
 * through the same recorder.
 */
export function createAuthDenialRecorder(options: AuthDenialRecorderOptions) {
  return function recordAuthDenial(denial: AuthDenial): void {
    options.metrics.authDenials.inc({ reason_code: denial.code });
    options.events.record({
      kind: 'AUTH_DENY',
      tenantId: '-',
      service: 'gateway',
      reason: denial.code,
      sourceIp: denial.sourceIp,
      correlationId: denial.correlationId,
      details: { detail: denial.detail, userAgent: denial.userAgent, clientRequestId: denial.clientRequestId },
    });
  };
}

export type AuthDenialRecorder = ReturnType<typeof createAuthDenialRecorder>;
