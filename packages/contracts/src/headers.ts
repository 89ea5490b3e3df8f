// Lowercase on purpose: Node's IncomingMessage lowercases header names, so
// these can index `req.headers` directly.

/** W3C Trace Context: the caller's trace id, span id and flags. */
export const TRACEPARENT_HEADER = 'traceparent';

/** W3C Trace Context: vendor-specific trace state that travels with `traceparent`. */
export const TRACESTATE_HEADER = 'tracestate';

/** Legacy request id, kept as an alias of the trace (see `extractTraceContext`). */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Client-chosen key that makes a mutation safe to retry. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** Carries `Bearer <jwt>`; tokens are never accepted from the query string. */
export const AUTHORIZATION_HEADER = 'authorization';

/**
 * Gateway → subgraph only: the verified token subject of the request, so a
 * subgraph can record who acted (e.g. an operator's audit row). Subgraphs are
 * reachable from the gateway alone; clients' values are never forwarded.
 */
export const SUBJECT_HEADER = 'x-coherence-subject';

/**
 * Gateway → coherence subgraph, while the `region-routing` flag is on: the
 * gateway's region, whose replica the subgraph reads.
 */
export const REGION_HINT_HEADER = 'x-coherence-region';

/**
 * Gateway → every subgraph, on every call: the region of the gateway that
 * sent it. Comms answers operator fields with the commands of the tenants
 * residing in that region only, and refuses them without it (REGION_REQUIRED).
 */
export const GATEWAY_REGION_HEADER = 'x-coherence-gateway-region';

/**
 * Subgraph → gateway, a key of a response's `extensions`: the ids of the
 * tenants whose rows the call returned or changed (comms' operator fields,
 * whose variables need not name a tenant). The gateway files its policy
 * decision under each of them (docs/adr/0010-operator-residency.md); it is
 * never passed on to clients.
 */
export const TENANTS_TOUCHED_EXTENSION = 'tenantsTouched';

/** Seconds a rate-limited (429) client should wait. */
export const RETRY_AFTER_HEADER = 'retry-after';
