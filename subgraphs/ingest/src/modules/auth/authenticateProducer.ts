import { extractBearerToken, type Principal, type TokenVerifier } from '@coherence/auth';
import { httpErrorBody, type SecurityEventWriter } from '@coherence/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ingestErrorCodes, type ForbiddenReason } from '../../errors';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller; set by the route's authentication hook. */
    principal: Principal | null;
  }
}

export interface AuthenticateOptions {
  verify: TokenVerifier;
  /** Where AUTH_DENY and TENANT_MISMATCH events are queued: written in batches, so a flood of refusals costs no write per request. */
  securityEvents: SecurityEventWriter;
  requiredScope: string;
}

/**
 * An `onRequest` hook: runs before the body is read, so a caller without a
 * valid token never gets its body parsed, validated or echoed back. Every
 * refusal is recorded as an AUTH_DENY security event.
 */
export function createAuthenticateHook(options: AuthenticateOptions) {
  return async function authenticate(request: FastifyRequest, reply: FastifyReply) {
    const extracted = extractBearerToken(request.headers, request.url);
    const result = extracted.ok ? await options.verify(extracted.token) : extracted;
    if (!result.ok) {
      recordSecurityEvent(request, options.securityEvents, { kind: 'AUTH_DENY', tenantId: '-', reason: result.code });
      return reply
        .code(ingestErrorCodes.UNAUTHENTICATED)
        .header('www-authenticate', 'Bearer realm="coherence"')
        .send(httpErrorBody('UNAUTHENTICATED', result.reason, { reason: result.code }));
    }
    const principal = result.principal;
    if (!principal.scopes.includes(options.requiredScope)) {
      recordSecurityEvent(request, options.securityEvents, {
        kind: 'AUTH_DENY',
        tenantId: principal.tenantId,
        reason: 'SCOPE_MISSING',
        principal,
      });
      return forbidden(reply, 'SCOPE_MISSING', `the token lacks the scope ${options.requiredScope}`);
    }
    request.principal = principal;
    return undefined;
  };
}

/** Most TENANT_MISMATCH events one request records. */
export const MAX_MISMATCH_EVENTS_PER_REQUEST = 10;

/** Refuses a batch that writes any tenant other than the token's own, and records who tried. */
export async function refuseForeignTenants(
  request: FastifyRequest,
  reply: FastifyReply,
  securityEvents: SecurityEventWriter,
  tenantIds: readonly string[],
): Promise<boolean> {
  const principal = request.principal!;
  const foreign = [...new Set(tenantIds.filter((tenantId) => tenantId !== principal.tenantId))];
  if (foreign.length === 0) return false;
  // Recorded under each targeted tenant, so the tenant that was attacked can
  // see it; bounded, so one crafted batch cannot cause a thousand writes.
  for (const tenantId of foreign.slice(0, MAX_MISMATCH_EVENTS_PER_REQUEST)) {
    recordSecurityEvent(request, securityEvents, {
      kind: 'TENANT_MISMATCH',
      tenantId,
      reason: 'TENANT_MISMATCH',
      principal,
      details: { tokenTenant: principal.tenantId, foreignTenants: foreign.length },
    });
  }
  await forbidden(reply, 'TENANT_MISMATCH', 'the token may only write signals of its own tenant');
  return true;
}

function forbidden(reply: FastifyReply, reason: ForbiddenReason, message: string) {
  return reply.code(ingestErrorCodes.FORBIDDEN).send(httpErrorBody('FORBIDDEN', message, { reason }));
}

function recordSecurityEvent(
  request: FastifyRequest,
  securityEvents: SecurityEventWriter,
  event: {
    kind: 'AUTH_DENY' | 'TENANT_MISMATCH';
    tenantId: string;
    reason: string;
    principal?: Principal;
    details?: Record<string, unknown>;
  },
): void {
  securityEvents.record({
    kind: event.kind,
    tenantId: event.tenantId,
    service: 'ingest',
    reason: event.reason,
    correlationId: request.trace.requestId,
    sourceIp: request.ip,
    ...(event.principal ? { subject: event.principal.subject, clientId: event.principal.clientId } : {}),
    ...(event.details ? { details: event.details } : {}),
  });
}
