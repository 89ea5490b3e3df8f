/**
 * A refusal the gateway answered with (README, "Errors"): its HTTP status,
 * `extensions.code`, the reason code a 401/403 carries, and for a 429 or a
 * 503 how long to wait.
 */
export interface Refusal {
  status: number;
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

interface GraphQLErrorBody {
  errors?: { message?: unknown; extensions?: { code?: unknown; reasonCode?: unknown; retryAfterSeconds?: unknown } }[];
}

/** Reads a non-2xx gateway answer; a body that is not the gateway's error shape still gives a refusal named by its status. */
export function refusalOf(status: number, headers: Headers, body: unknown, nowMs: number): Refusal {
  const first = (body as GraphQLErrorBody | null)?.errors?.[0];
  const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : `HTTP_${status}`;
  const reasonCode = typeof first?.extensions?.reasonCode === 'string' ? first.extensions.reasonCode : undefined;
  const fromBody = first?.extensions?.retryAfterSeconds;
  const retryAfterSeconds = parseRetryAfter(headers.get('retry-after'), nowMs) ?? (typeof fromBody === 'number' ? fromBody : undefined);
  return {
    status,
    code,
    message: typeof first?.message === 'string' ? first.message : `the gateway answered ${status}`,
    ...(reasonCode === undefined ? {} : { reasonCode }),
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  };
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
