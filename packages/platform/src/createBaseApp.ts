import { requestTrace, type RequestTrace } from '@coherence/contracts';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { isUtf8 } from 'node:buffer';
import { maxHeaderSize, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { LogController, type ConnectionError, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { BodyNotUtf8Error, httpErrorBody, useHttpErrors, type ErrorBodyFormat } from './httpErrors';

export interface BaseAppOptions {
  logger: Logger;
  /** Largest accepted request body; bigger ones get 413. Default 1_048_576. */
  bodyLimitBytes?: number;
  /** How refused requests are rendered. Default `{"error":{code,message}}`. */
  errorBody?: ErrorBodyFormat;
  /**
   * Let a caller's lone `x-request-id` become the request id (`request_id`
   * in logs, the correlation id of audit rows). Default `true`, for services
   * that only the gateway calls; the internet-facing gateway sets `false`:
   * its id is the trace id, the caller's is logged as `client_request_id`.
   */
  trustRequestId?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    trace: RequestTrace;
  }
}

/**
 * Codes of the requests Node's HTTP parser refuses before any route, hook or
 * error handler runs: not HTTP/1.1, headers over Node's limit (16 KB by
 * default, `--max-http-header-size`), or headers that never finish arriving.
 */
export const clientErrorCodes = {
  MALFORMED_REQUEST: 400,
  REQUEST_TIMEOUT: 408,
  REQUEST_HEADER_FIELDS_TOO_LARGE: 431,
} as const;
type ClientErrorCode = keyof typeof clientErrorCodes;

function classifyClientError(error: ConnectionError): { code: ClientErrorCode; message: string } {
  if (error.code === 'HPE_HEADER_OVERFLOW')
    return { code: 'REQUEST_HEADER_FIELDS_TOO_LARGE', message: `the request line and headers exceed ${maxHeaderSize} bytes` };
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { code: 'REQUEST_TIMEOUT', message: 'the request headers did not arrive in time' };
  return { code: 'MALFORMED_REQUEST', message: 'the request is not valid HTTP/1.1' };
}

/**
 * Answers what the parser refused in the service's own error shape, as every
 * other refusal is (Fastify's default body has another shape). Written to the
 * socket directly, as Fastify and Node do: there is no request to reply to.
 */
function createClientErrorHandler(logger: Logger, format: ErrorBodyFormat) {
  return (error: ConnectionError, socket: Socket) => {
    // The peer has gone: nobody to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { code, message } = classifyClientError(error);
    const status = clientErrorCodes[code];
    // Not the error itself: its rawPacket holds the request's bytes, bearer token included.
    logger.info({ code, parser_code: error.code }, 'request refused by the HTTP parser');
    if (socket.writable) {
      const body = JSON.stringify(format(code, message));
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  };
}

/**
 * The path of a request target without its query string: access logs keep
 * the path only, since a query string can carry what must never be stored
 * (a token sent as `?access_token=` is refused, but the URL would still reach
 * the log).
 */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Paths that probes and scrapers call every few seconds: not worth an access-log line each. */
const unloggedPaths = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The Fastify app under every listener, service or admin: `/healthz` (the
 * process is alive; it touches no dependency), the request's trace (the
 * HTTP server span OpenTelemetry started for it, see
 * docs/adr/0020-traces.md) bound to the request logger as `request_id` and
 * `trace_id`, one access-log line per request, JSON bodies that must be
 * UTF-8, and a JSON refusal in the service's error shape for what the HTTP
 * parser refuses.
 */
export function createBaseApp(options: BaseAppOptions): FastifyInstance {
  // Fastify asks for the request id before any hook runs; the trace read
  // then is kept for the request (without a server span, reading it twice
  // would mint two trace ids).
  const traces = new WeakMap<IncomingMessage, RequestTrace>();
  const trustRequestId = options.trustRequestId ?? true;
  const traceOf = (headers: IncomingMessage['headers']): RequestTrace => {
    const active = trace.getActiveSpan()?.spanContext();
    return requestTrace(headers, { trustRequestId, ...(active && isSpanContextValid(active) ? { activeTraceId: active.traceId } : {}) });
  };
  const app = Fastify({
    // Typed as Fastify's logger interface so the app is a plain FastifyInstance.
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimitBytes ?? 1_048_576,
    // Fastify's own per-request lines are off: the onResponse hook below
    // writes one line per request, with the fields our logs always carry.
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    genReqId: (req) => {
      const requestTraced = traceOf(req.headers);
      traces.set(req, requestTraced);
      return requestTraced.requestId;
    },
    clientErrorHandler: createClientErrorHandler(options.logger, options.errorBody ?? httpErrorBody),
  });
  useHttpErrors(app, options.errorBody);
  // Every body we take is JSON; without this, text/plain would be parsed as a
  // string and reach the handlers instead of getting a clean 415.
  app.removeContentTypeParser('text/plain');
  // Node decodes bytes that are not UTF-8 as U+FFFD, so such a body would be
  // stored as something its sender never wrote: it is refused instead, then
  // parsed by Fastify's own JSON parser (empty body, prototype poisoning).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (!isUtf8(body as Buffer)) return done(new BodyNotUtf8Error(), undefined);
    parseJson(request, (body as Buffer).toString('utf8'), done);
  });
  app.decorateRequest('trace');
  app.addHook('onRequest', async (request) => {
    request.trace = traces.get(request.raw) ?? traceOf(request.headers);
    const { clientRequestId } = request.trace;
    const span = trace.getActiveSpan();
    if (span !== undefined) {
      // The route, not the URL: a span name must not grow with ids in paths.
      const route = request.routeOptions.url;
      if (route !== undefined) span.updateName(`${request.method} ${route}`).setAttribute('http.route', route);
      if (clientRequestId !== undefined) span.setAttribute('http.request.header.x-request-id', clientRequestId);
    }
    request.log = request.log.child({
      trace_id: request.trace.traceId,
      ...(clientRequestId === undefined || clientRequestId === request.id ? {} : { client_request_id: clientRequestId }),
    });
  });
  app.addHook('onResponse', async (request, reply) => {
    const path = pathOf(request.url);
    if (unloggedPaths.has(path)) return;
    request.log.info(
      { method: request.method, path, status: reply.statusCode, duration_ms: Math.round(reply.elapsedTime) },
      'request done',
    );
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
