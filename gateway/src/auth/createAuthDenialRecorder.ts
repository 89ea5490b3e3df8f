import { recordSecurityEvent, type Logger, type PgPool } from '@coherence/platform';
import type { SecurityMetrics } from '../createSecurityMetrics';

export interface AuthDenialRecorderOptions {
  pool: PgPool;
  logger: Logger;
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
 * Persists a refused authentication as an AUTH_DENY security event (who, why,
 * when, from where) and counts it. Unverified claims are not trusted, so the
 * event is filed under tenant '-'. HTTP requests and WebSocket connections
 * are refused through the same recorder.
 */
export function createAuthDenialRecorder(options: AuthDenialRecorderOptions) {
  return async function recordAuthDenial(denial: AuthDenial): Promise<void> {
    options.metrics.authDenials.inc({ reason_code: denial.code });
    try {
      await recordSecurityEvent(options.pool, {
        kind: 'AUTH_DENY',
        tenantId: '-',
        service: 'gateway',
        reason: denial.code,
        sourceIp: denial.sourceIp,
        correlationId: denial.correlationId,
        details: { detail: denial.detail, userAgent: denial.userAgent, clientRequestId: denial.clientRequestId },
      });
    } catch (error) {
      // The refusal stands either way; a lost audit row must be visible in the logs.
      options.logger.error({ err: error, reason: denial.code }, 'recording an AUTH_DENY security event failed');
    }
  };
}

export type AuthDenialRecorder = ReturnType<typeof createAuthDenialRecorder>;
