import type { GatewayErrorCode } from '../errors';
import type { GatewayOperation, PersistedOperations } from './createPersistedOperations';

/** Why a request is not run; `extensions` (a `reasonCode`, say) go into the error as they are. */
export interface RefusedRequest {
  ok: false;
  code: GatewayErrorCode;
  message: string;
  extensions?: Record<string, unknown>;
}

export type ResolvedRequest =
  { ok: true; operation: GatewayOperation; variables: Record<string, unknown>; breakGlass: boolean } | RefusedRequest;

/**
 * Break glass: how query text becomes an operation, or why this request may
 * not send it. Absent (the default), query text is always refused.
 */
export type FreeTextOperations = (query: string) => { ok: true; operation: GatewayOperation } | RefusedRequest;

const refuse = (code: GatewayErrorCode, message: string): ResolvedRequest => ({ ok: false, code, message });

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Deepest nesting of lists and objects accepted in one variable. The API's
 * deepest input type is a few levels; 32 leaves room while keeping every
 * walk over variables (tenant ids, cache keys, Apollo's coercion) shallow.
 * JSON.parse accepts any depth, so without it 5,000 nested arrays overflow
 * the stack of a recursive walk (a 500).
 */
export const MAX_VARIABLE_DEPTH = 32;

/** The first variable nested deeper than {@link MAX_VARIABLE_DEPTH}; measured without recursion, whatever the depth. */
function tooDeepVariable(variables: Record<string, unknown>): string | undefined {
  for (const [name, value] of Object.entries(variables)) {
    const pending: [unknown, number][] = [[value, 1]];
    while (pending.length > 0) {
      const [current, depth] = pending.pop()!;
      if (typeof current !== 'object' || current === null) continue;
      if (depth > MAX_VARIABLE_DEPTH) return name;
      for (const inner of Object.values(current)) pending.push([inner, depth + 1]);
    }
  }
  return undefined;
}

/** GET carries `extensions` and `variables` as JSON strings in the query string. */
function decodeGetParams(params: Record<string, unknown>): Record<string, unknown> | string {
  const decoded: Record<string, unknown> = { ...params };
  for (const key of ['extensions', 'variables'] as const) {
    const raw = params[key];
    if (raw === undefined) continue;
    if (typeof raw !== 'string') return `${key} must be given once`;
    try {
      decoded[key] = JSON.parse(raw);
    } catch {
      return `${key} is not valid JSON`;
    }
  }
  return decoded;
}

function persistedQueryOf(request: Record<string, unknown>): Record<string, unknown> | undefined {
  const extensions = request['extensions'];
  const persistedQuery = isRecord(extensions) ? extensions['persistedQuery'] : undefined;
  return isRecord(persistedQuery) ? persistedQuery : undefined;
}

/** `documentId` may be the bare hex digest or prefixed `sha256:` (GraphQL over HTTP persisted documents). */
function requestedId(request: Record<string, unknown>): string | undefined {
  const persistedQuery = persistedQueryOf(request);
  if (persistedQuery && typeof persistedQuery['sha256Hash'] === 'string') return persistedQuery['sha256Hash'];
  const documentId = request['documentId'];
  if (typeof documentId === 'string') return documentId.startsWith('sha256:') ? documentId.slice('sha256:'.length) : documentId;
  return undefined;
}

/**
 * Maps an incoming GraphQL-over-HTTP request to a persisted operation.
 * Free text is refused even when it comes with a hash (that is how
 * automatic persisted queries register new operations, which must never be
 * possible here), and mutations are refused over GET. Only with break glass
 * on (`freeText` given) may query text run, as an operation of its own, if
 * `freeText` admits the caller.
 */
export function resolvePersistedRequest(
  method: 'GET' | 'POST',
  payload: unknown,
  operations: PersistedOperations,
  freeText?: FreeTextOperations,
): ResolvedRequest {
  if (!isRecord(payload)) return refuse('MALFORMED_REQUEST', 'the request must be one JSON object (batches are not supported)');
  const request = method === 'GET' ? decodeGetParams(payload) : payload;
  if (typeof request === 'string') return refuse('MALFORMED_REQUEST', request);

  if (request['query'] !== undefined && freeText && typeof request['query'] === 'string') {
    const resolved = freeText(request['query']);
    if (!resolved.ok) return resolved;
    return withVariables(method, request, resolved.operation, true);
  }
  if (request['query'] !== undefined) {
    return refuse(
      'PERSISTED_QUERY_REQUIRED',
      'only persisted operations are accepted: send extensions.persistedQuery.sha256Hash, not query text',
    );
  }
  // Apollo's persisted query protocol has only version 1; another version means a client we do not know how to answer.
  const persistedQuery = persistedQueryOf(request);
  if (persistedQuery && persistedQuery['version'] !== 1)
    return refuse('PERSISTED_QUERY_VERSION_UNSUPPORTED', 'extensions.persistedQuery.version must be 1, the only version there is');
  const id = requestedId(request);
  if (id === undefined)
    return refuse('PERSISTED_QUERY_REQUIRED', 'send the persisted operation id as extensions.persistedQuery.sha256Hash or documentId');
  const operation = operations.get(id);
  if (!operation) return refuse('PERSISTED_QUERY_NOT_FOUND', `no persisted operation has id ${id.slice(0, 80)}`);
  return withVariables(method, request, operation, false);
}

function withVariables(
  method: 'GET' | 'POST',
  request: Record<string, unknown>,
  operation: GatewayOperation,
  breakGlass: boolean,
): ResolvedRequest {
  // A subscription is refused by transport, not method (usePersistedOperation): it belongs on graphql-ws.
  if (method === 'GET' && operation.type === 'mutation') return refuse('METHOD_NOT_ALLOWED', 'mutation operations must be sent with POST');

  const variables = request['variables'] ?? {};
  if (!isRecord(variables)) return refuse('MALFORMED_REQUEST', 'variables must be a JSON object');
  const tooDeep = tooDeepVariable(variables);
  if (tooDeep !== undefined)
    return refuse('BAD_USER_INPUT', `variable $${tooDeep.slice(0, 80)} is nested more than ${MAX_VARIABLE_DEPTH} levels deep`);
  // Only __typename (break-glass text, or such a manifest entry): there is no field for the policy to decide on, nor anything worth running.
  if (operation.shape.rootFields.length === 0)
    return refuse('BAD_USER_INPUT', `${operation.name} selects no field but __typename: select at least one field of the API`);
  return { ok: true, operation, variables, breakGlass };
}
