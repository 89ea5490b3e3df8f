import { SCOPES, type Principal } from '@coherence/auth';
import type { GraphQLSchema } from 'graphql';
import type { GatewayErrorCode } from '../errors';
import { createFreeTextOperation } from './createFreeTextOperation';
import type { FreeTextOperations, RefusedRequest } from './resolvePersistedRequest';

/**
 * The oldest token break glass accepts: whoever sends query text signed in
 * moments ago, so a token copied from a log or a browser earlier in the day
 * cannot be used for it.
 */
export const BREAK_GLASS_MAX_TOKEN_AGE_SECONDS = 15 * 60;

/** Whether this request may send query text, and the operation its text makes. */
export type BreakGlass = (query: string, request: { method: 'GET' | 'POST'; principal: Principal }) => ReturnType<FreeTextOperations>;

export interface BreakGlassOptions {
  apiSchema: GraphQLSchema;
  /** When break glass ends (GATEWAY_BREAK_GLASS_UNTIL): after it, query text is refused as if break glass were off. */
  until: Date;
  /** Milliseconds since the epoch; default `Date.now`. */
  now?: () => number;
}

const refuse = (code: GatewayErrorCode, message: string, extensions?: Record<string, unknown>): RefusedRequest => ({
  ok: false,
  code,
  message,
  ...(extensions ? { extensions } : {}),
});

/**
 * Query text, for triage: runs only until `until`, only for a token with the
 * `platform:break-glass` scope issued in the last 15 minutes, and only over
 * POST (a GET can be made cross-site by a link or an image, and its query
 * string lands in access logs and proxies). All of this is checked before the text is parsed, so nobody else
 * can make the gateway parse or validate anything. The operation is then
 * authorized and audited like any other (useBreakGlassAudit, usePolicy).
 */
export function createBreakGlass(options: BreakGlassOptions): BreakGlass {
  const now = options.now ?? Date.now;
  return (query, { method, principal }) => {
    const nowMs = now();
    if (nowMs >= options.until.getTime())
      return refuse(
        'PERSISTED_QUERY_REQUIRED',
        `break glass ended at ${options.until.toISOString()}: only persisted operations are accepted, not query text`,
      );
    if (!principal.scopes.includes(SCOPES.breakGlass))
      return refuse('FORBIDDEN', `query text needs the ${SCOPES.breakGlass} scope`, { reasonCode: 'SCOPE_MISSING' });
    if (principal.issuedAt === undefined || nowMs - principal.issuedAt.getTime() > BREAK_GLASS_MAX_TOKEN_AGE_SECONDS * 1_000)
      return refuse('FORBIDDEN', `query text needs a token issued (iat) in the last ${BREAK_GLASS_MAX_TOKEN_AGE_SECONDS / 60} minutes`, {
        reasonCode: 'TOKEN_TOO_OLD',
      });
    if (method !== 'POST') return refuse('METHOD_NOT_ALLOWED', 'query text must be sent with POST');
    const operation = createFreeTextOperation(query, options.apiSchema);
    if ('problem' in operation) return refuse('BAD_USER_INPUT', operation.problem);
    return { ok: true, operation };
  };
}
