import { extractBearerToken, type TokenVerifier } from '@coherence/auth';
import type { AuthDenialRecorder } from '../auth/createAuthDenialRecorder';
import { refusal, type GatewayStep } from './GatewayStep';

export interface AuthenticationOptions {
  verifyToken: TokenVerifier;
  /** Queues a refusal as an AUTH_DENY security event; absent, refusals are not audited (the fan-out benchmark). */
  recordAuthDenial?: AuthDenialRecorder;
}

/** Verifies the bearer token and sets `principal`; anything else is UNAUTHENTICATED with the token error as `reasonCode`. */
export function useAuthentication(options: AuthenticationOptions): GatewayStep {
  return {
    name: 'authentication',
    async onRequest(context) {
      const bearer = extractBearerToken(context.credentials.headers, context.credentials.url);
      const result = bearer.ok ? await options.verifyToken(bearer.token) : bearer;
      if (result.ok) {
        context.principal = result.principal;
        return undefined;
      }
      options.recordAuthDenial?.({
        code: result.code,
        detail: result.reason,
        sourceIp: context.sourceIp,
        correlationId: context.correlationId,
        clientRequestId: context.clientRequestId,
        userAgent: context.userAgent,
      });
      return refusal('UNAUTHENTICATED', result.reason, { reasonCode: result.code });
    },
  };
}
