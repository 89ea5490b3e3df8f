import { extractBearerToken, type Principal, type TokenVerifier } from '@coherence/auth';
import { recordSecurityEvent, type Logger, type PgPool } from '@coherence/platform';
import type { FastifyRequest } from 'fastify';
import type { SecurityMetrics } from '../createSecurityMetrics';

export type AuthenticationResult = { ok: true; principal: Principal } | { ok: false; reasonCode: string; message: string };

export interface AuthenticatorOptions {
  verifyToken: TokenVerifier;
  pool: PgPool;
  logger: Logger;
  metrics: SecurityMetrics;
}

/**
 * Verifies the request's bearer token. A refusal is persisted as an
 * AUTH_DENY security event before the 401 goes out (who, why, when, from
 * where). Unverified claims are not trusted, so the event is filed under
 * tenant '-'.
 */
export function createAuthenticator(options: AuthenticatorOptions) {
  return async function authenticate(request: FastifyRequest): Promise<AuthenticationResult> {
    const bearer = extractBearerToken(request.headers, request.url);
    const result = bearer.ok ? await options.verifyToken(bearer.token) : bearer;
    if (result.ok) return result;
    options.metrics.authDenials.inc({ reason_code: result.code });
    try {
      await recordSecurityEvent(options.pool, {
        kind: 'AUTH_DENY',
        tenantId: '-',
        service: 'gateway',
        reason: result.code,
        sourceIp: request.ip,
        correlationId: request.trace.requestId,
        details: { detail: result.reason, userAgent: request.headers['user-agent'] ?? null },
      });
    } catch (error) {
      // The 401 stands either way; a lost audit row must be visible in the logs.
      options.logger.error({ err: error, reason: result.code }, 'recording an AUTH_DENY security event failed');
    }
    return { ok: false, reasonCode: result.code, message: result.reason };
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
