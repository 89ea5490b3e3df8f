import type { GatewayErrorCode } from '../errors';
import type { GatewayOperation, PersistedOperations } from './createPersistedOperations';

export type ResolvedRequest =
  | { ok: true; operation: GatewayOperation; variables: Record<string, unknown>; breakGlass: boolean }
  | { ok: false; code: GatewayErrorCode; message: string };

/** Break glass: how query text becomes an operation. Absent (the default), query text is always refused. */
export type FreeTextOperations = (query: string) => GatewayOperation | { problem: string };

const refuse = (code: GatewayErrorCode, message: string): ResolvedRequest => ({ ok: false, code, message });

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

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

/** `documentId` may be the bare hex digest or prefixed `sha256:` (GraphQL over HTTP persisted documents). */
function requestedId(request: Record<string, unknown>): string | undefined {
  const extensions = request['extensions'];
  const persistedQuery = isRecord(extensions) ? extensions['persistedQuery'] : undefined;
  if (isRecord(persistedQuery) && typeof persistedQuery['sha256Hash'] === 'string') return persistedQuery['sha256Hash'];
  const documentId = request['documentId'];
  if (typeof documentId === 'string') return documentId.startsWith('sha256:') ? documentId.slice('sha256:'.length) : documentId;
  return undefined;
}

/**
 * Maps an incoming GraphQL-over-HTTP request to a persisted operation.
 * Free text is refused even when it comes with a hash (that is how
 * automatic persisted queries register new operations, which must never be
 * possible here), and mutations are refused over GET. Only with break glass
 * on (`freeText` given) does query text run, as an operation of its own.
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
    const operation = freeText(request['query']);
    if ('problem' in operation) return refuse('BAD_USER_INPUT', operation.problem);
    return withVariables(method, request, operation, true);
  }
  if (request['query'] !== undefined) {
    return refuse(
      'PERSISTED_QUERY_REQUIRED',
      'only persisted operations are accepted: send extensions.persistedQuery.sha256Hash, not query text',
    );
  }
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
  if (method === 'GET' && operation.type !== 'query')
    return refuse('METHOD_NOT_ALLOWED', `${operation.type} operations must be sent with POST`);

  const variables = request['variables'] ?? {};
  if (!isRecord(variables)) return refuse('MALFORMED_REQUEST', 'variables must be a JSON object');
  return { ok: true, operation, variables, breakGlass };
}
