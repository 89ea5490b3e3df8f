/**
 * Every `extensions.code` the gateway itself answers with, and its HTTP
 * status. Codes from subgraphs pass through; anything else is masked as
 * INTERNAL. The README's table lists the same codes (a test keeps them in step).
 */
export const gatewayErrorCodes = {
  PERSISTED_QUERY_REQUIRED: 400,
  PERSISTED_QUERY_NOT_FOUND: 400,
  /** `extensions.persistedQuery.version` is not 1, the only version of the protocol. */
  PERSISTED_QUERY_VERSION_UNSUPPORTED: 400,
  /** Not one JSON object, variables/extensions not objects, or not valid HTTP at all (refused by the HTTP parser). */
  MALFORMED_REQUEST: 400,
  MALFORMED_JSON: 400,
  EMPTY_BODY: 400,
  /** No valid token; `extensions.reasonCode` says why (a {@link TokenErrorCode} or TOKEN_IN_QUERY_STRING). */
  UNAUTHENTICATED: 401,
  /** The policy denied; `extensions.reasonCode` is the decision's reason (SCOPE_MISSING, TENANT_MISMATCH, …). */
  FORBIDDEN: 403,
  /** The tenant the request touches is suspended (docs/adr/0031-tenant-administration.md); `extensions.reasonCode` is TENANT_SUSPENDED too. */
  TENANT_SUSPENDED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  /** The request line and headers are over Node's limit (16 KB); answered by the HTTP parser, before authentication. */
  REQUEST_HEADER_FIELDS_TOO_LARGE: 431,
  /** The headers did not arrive in time; answered by the HTTP parser. */
  REQUEST_TIMEOUT: 408,
  /** Over the tenant's share; the `Retry-After` header and `extensions.retryAfterSeconds` say when to retry. */
  RATE_LIMITED: 429,
  BAD_USER_INPUT: 400,
  /** The `v24.coherence` kill switch is off: coherence reads and subscriptions are refused until it is on again. */
  FEATURE_DISABLED: 503,
  /** The gateway's database, a subgraph or a subgraph's database could not be reached (a restart); `Retry-After` says when to retry. */
  SERVICE_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;
export type GatewayErrorCode = keyof typeof gatewayErrorCodes;

export interface GraphQLErrorBody {
  errors: { message: string; extensions: { code: string } & Record<string, unknown> }[];
}

export function graphqlErrorBody(code: string, message: string, extensions: Record<string, unknown> = {}): GraphQLErrorBody {
  return { errors: [{ message, extensions: { ...extensions, code } }] };
}
