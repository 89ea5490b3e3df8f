import type { FastifyError, FastifyInstance } from 'fastify';
import { isUnreachableError } from './errorCauses';

/**
 * Error codes every HTTP service answers with, in the body
 * `{"error":{"code":…,"message":…}}`. Service-specific codes live in each
 * service's own registry.
 */
export const httpErrorCodes = {
  MALFORMED_JSON: 400,
  EMPTY_BODY: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  NOT_FOUND: 404,
  /** A dependency (Postgres) could not be reached, e.g. during its restart: nothing was stored; retry after `Retry-After` seconds. */
  SERVICE_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

/** What a SERVICE_UNAVAILABLE answer's `Retry-After` says: a fast Postgres restart takes a second or two. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;
/** What a SERVICE_UNAVAILABLE answer says, over HTTP and in a GraphQL error alike. */
export const SERVICE_UNAVAILABLE_MESSAGE = 'a dependency is unavailable; retry shortly';
export type HttpErrorCode = keyof typeof httpErrorCodes;

export interface HttpErrorBody {
  error: { code: string; message: string } & Record<string, unknown>;
}

export function httpErrorBody(code: string, message: string, extra: Record<string, unknown> = {}): HttpErrorBody {
  return { error: { code, message, ...extra } };
}

/** A JSON body whose bytes are not UTF-8 (refused by the service app's body parser). */
export class BodyNotUtf8Error extends Error {
  readonly statusCode = 400;
  constructor() {
    super('the body is not valid UTF-8');
  }
}

/** Maps Fastify's body-parsing failures to stable codes and masks everything unexpected. */
function classify(error: FastifyError): { code: HttpErrorCode; message: string } {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'the body must be application/json' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'PAYLOAD_TOO_LARGE', message: error.message };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { code: 'EMPTY_BODY', message: 'the JSON body is empty' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { code: 'MALFORMED_JSON', message: 'the body is not valid JSON' };
  }
  if (error instanceof BodyNotUtf8Error) return { code: 'MALFORMED_JSON', message: error.message };
  if (error instanceof SyntaxError && error.statusCode === 400) return { code: 'MALFORMED_JSON', message: 'the body is not valid JSON' };
  // Not a bug of ours or the caller's: the request can succeed as it is once the dependency is back
  // (docs/runbooks/drills/postgres-primary-restart.md).
  if (isUnreachableError(error)) return { code: 'SERVICE_UNAVAILABLE', message: SERVICE_UNAVAILABLE_MESSAGE };
  return { code: 'INTERNAL', message: 'internal error' };
}

/** Renders an error body; services with GraphQL clients answer `{"errors":[…]}` instead. */
export type ErrorBodyFormat = (code: string, message: string) => unknown;

export function useHttpErrors(app: FastifyInstance, format: ErrorBodyFormat = httpErrorBody): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { code, message } = classify(error);
    const status = httpErrorCodes[code];
    if (code === 'SERVICE_UNAVAILABLE') {
      request.log.warn({ err: error }, 'dependency unavailable');
      void reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    } else if (status >= 500) request.log.error({ err: error }, 'unhandled error');
    else request.log.info({ code }, 'request refused');
    return reply.code(status).send(format(code, message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(format('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}
