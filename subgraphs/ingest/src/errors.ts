/**
 * The ingest service's own error codes and their HTTP statuses (shared ones,
 * such as MALFORMED_JSON or PAYLOAD_TOO_LARGE, are in @coherence/platform).
 * Every refusal is `{"error":{"code",…}}`; the README's table lists them all
 * and a test keeps the two in step.
 */
export const ingestErrorCodes = {
  /** The batch failed validation; `issues` lists every problem; nothing was stored. */
  INVALID_SIGNAL: 400,
  /** The `Idempotency-Key` header is empty, too long or not visible ASCII. */
  INVALID_IDEMPOTENCY_KEY: 400,
  /** No usable bearer token; `reason` says why (e.g. TOKEN_EXPIRED, TOKEN_IN_QUERY_STRING). */
  UNAUTHENTICATED: 401,
  /** A valid token that may not do this; `reason` is SCOPE_MISSING, TENANT_MISMATCH, RESIDENCY_VIOLATION or another policy reason code. */
  FORBIDDEN: 403,
  /** The token's tenant has no row in `tenants`: nothing may be written for it until it is registered. */
  TENANT_UNKNOWN: 403,
  /** The token's tenant is suspended (docs/adr/0031-tenant-administration.md). */
  TENANT_SUSPENDED: 403,
  /** The `Idempotency-Key` was used with another body; `fields` lists the paths that differ. */
  IDEMPOTENCY_MISMATCH: 409,
  /** Over the tenant's share; `Retry-After` says when to come back. */
  RATE_LIMITED: 429,
} as const;
export type IngestErrorCode = keyof typeof ingestErrorCodes;

/** Why the authentication hook refused a valid token (`error.reason` of a 403); the write policy's reasons are its reason codes. */
export type ForbiddenReason = 'SCOPE_MISSING' | 'TENANT_MISMATCH';
