/**
 * A refusal the gateway answered with (README, "Errors"): its HTTP status
 * (none for a refusal on the live socket), `extensions.code`, the reason code
 * a 401/403 carries, and for a 429 or a 503 how long to wait.
 */
export interface Refusal {
  status?: number;
  code: string;
  reasonCode?: string;
  message: string;
  retryAfterSeconds?: number;
}

/** Thrown by the gateway fetch for a non-2xx answer, so every view sees one typed error. */
export class RefusalError extends Error {
  constructor(readonly refusal: Refusal) {
    super(`${refusal.code}: ${refusal.message}`);
    this.name = 'RefusalError';
  }
}

/** `Retry-After` as seconds: a delay (RFC 9110 allows whole seconds) or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, nowMs: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  // An HTTP date ends in GMT (RFC 9110 IMF-fixdate); Date.parse alone would read "-3" as a year.
  const at = trimmed.endsWith('GMT') ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1_000));
}

interface GraphQLErrorShape {
  message?: unknown;
  extensions?: { code?: unknown; reasonCode?: unknown; retryAfterSeconds?: unknown };
}

/** The first of the gateway's errors as a refusal; `fallback` names it when the error lacks the gateway's shape. */
function refusalOfError(first: GraphQLErrorShape | undefined, fallback: { code: string; message: string }, retryAfterHeader?: number) {
  const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : fallback.code;
  const reasonCode = typeof first?.extensions?.reasonCode === 'string' ? first.extensions.reasonCode : undefined;
  const fromBody = first?.extensions?.retryAfterSeconds;
  const retryAfterSeconds = retryAfterHeader ?? (typeof fromBody === 'number' ? fromBody : undefined);
  return {
    code,
    message: typeof first?.message === 'string' ? first.message : fallback.message,
    ...(reasonCode === undefined ? {} : { reasonCode }),
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  };
}

/** Reads a non-2xx gateway answer; a body that is not the gateway's error shape still gives a refusal named by its status. */
export function refusalOf(status: number, headers: Headers, body: unknown, nowMs: number): Refusal {
  const first = (body as { errors?: GraphQLErrorShape[] } | null)?.errors?.[0];
  const fallback = { code: `HTTP_${status}`, message: `the gateway answered ${status}` };
  return { status, ...refusalOfError(first, fallback, parseRetryAfter(headers.get('retry-after'), nowMs)) };
}

/**
 * Close codes with which the gateway refuses a live connection for good
 * (4000 + the HTTP status; gateway/src/subscriptions/attachCoherenceSubscriptions.ts):
 * the token is not accepted, so connecting again would be refused again. The
 * refusal's code is the close reason.
 */
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([4401, 4403]);

/**
 * What the live socket's error sink got, as a refusal: the GraphQL errors of a
 * refused subscribe (their code, reason code and delay), or the close of a
 * connection refused for good. Undefined for anything else, such as a lost
 * network, after which the client reconnects.
 */
export function refusalOfLiveError(error: unknown): Refusal | undefined {
  if (Array.isArray(error))
    return refusalOfError(error[0] as GraphQLErrorShape | undefined, { code: 'ERROR', message: 'the subscription was refused' });
  const close = error as { code?: unknown; reason?: unknown } | null;
  if (typeof close?.code !== 'number' || !FINAL_CLOSE_CODES.has(close.code)) return undefined;
  const reason = typeof close.reason === 'string' && close.reason !== '' ? close.reason : `CLOSE_${close.code}`;
  return { code: reason, message: `the gateway closed the live connection (${close.code})` };
}

/** What the reader should know and do, per code; the machine code is always shown next to it. */
const explanations: Record<string, string> = {
  UNAUTHENTICATED: 'You are not signed in, or your token has expired or is not trusted. Sign in again.',
  FORBIDDEN: 'Your token may not do this.',
  RATE_LIMITED: 'Too many requests for this tenant.',
  FEATURE_DISABLED: 'Coherence is switched off for now (kill switch v24.coherence). Ingest still accepts signals.',
  SERVICE_UNAVAILABLE: 'The gateway cannot reach its database right now.',
  PERSISTED_QUERY_NOT_FOUND: 'The gateway does not know this operation: the app and the gateway run different manifests.',
  TENANT_SUSPENDED: 'This tenant is suspended.',
};

/** Reasons a 401/403 gives (the policy's decision or the token check), in words. */
const reasons: Record<string, string> = {
  TENANT_MISMATCH: 'Your token is for another tenant.',
  TENANT_UNKNOWN: 'This tenant is not registered in this region.',
  SCOPE_MISSING: 'Your token lacks the scope this needs.',
  RESIDENCY_VIOLATION: "Your token may not read this tenant's region.",
  FEATURE_PAUSED: 'This scope is paused on the gateway for now.',
  FIELD_NOT_COVERED: 'The policy does not cover a field of this operation.',
  TOKEN_MISSING: 'No token was sent.',
  TOKEN_EXPIRED: 'Your token has expired.',
};

/** One readable sentence for a refusal, ending with its machine code(s), e.g. "… (FORBIDDEN TENANT_MISMATCH)". */
export function describeRefusal(refusal: Refusal): string {
  const parts = [explanations[refusal.code] ?? refusal.message];
  if (refusal.reasonCode !== undefined) parts.push(reasons[refusal.reasonCode] ?? '');
  if (refusal.retryAfterSeconds !== undefined) parts.push(`Retrying in ${refusal.retryAfterSeconds} s.`);
  const codes = [refusal.code, refusal.reasonCode].filter((code) => code !== undefined).join(' ');
  return `${parts.filter((part) => part !== '').join(' ')} (${codes})`;
}
