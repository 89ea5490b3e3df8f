// Lowercase on purpose: Node's IncomingMessage lowercases header names, so
// these can index `req.headers` directly.

/** W3C Trace Context: the caller's trace id, span id and flags. */
export const TRACEPARENT_HEADER = 'traceparent';

/** W3C Trace Context: vendor-specific trace state that travels with `traceparent`. */
export const TRACESTATE_HEADER = 'tracestate';

/** W3C Baggage: `tenant.id` travels in it (docs/adr/0020-traces.md). */
export const BAGGAGE_HEADER = 'baggage';

/** Legacy request id, kept as an alias of the trace (see `requestTrace`). */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Client-chosen key that makes a mutation safe to retry. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** Carries `Bearer <jwt>`; tokens are never accepted from the query string. */
export const AUTHORIZATION_HEADER = 'authorization';

/**
 * Gateway → subgraph, on every call: the gateway's internal token, a JWT
 * signed with its own key for that one subgraph, carrying the request's
 * subject, scopes, tenants, region and request id
 * (docs/adr/0011-signed-subgraph-calls.md). Subgraphs refuse calls without a
 * valid one and take nothing else from the caller's headers on trust.
 */
export const INTERNAL_TOKEN_HEADER = 'x-coherence-internal-token';

/**
 * Most operations one batched subgraph call carries (the gateway's batches
 * are at most this; a subgraph refuses more). A batched call's body is a JSON
 * array of operations and its INTERNAL_TOKEN_HEADER the comma-separated
 * tokens of each, in order (docs/adr/0037-batched-subgraph-calls.md).
 */
export const SUBGRAPH_MAX_BATCH = 32;

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
