import { requestTrace, type RequestTrace } from '@coherence/contracts';
import { startServerSpan, type ServerSpan } from '@coherence/telemetry';
import { context, isSpanContextValid, SpanStatusCode } from '@opentelemetry/api';
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

/** What a request's log lines say of its trace: `trace_id`, and the caller's own request id when it is not the request id. */
function traceBindings(requestTraced: RequestTrace): Record<string, string> {
  const { traceId, requestId, clientRequestId } = requestTraced;
  return clientRequestId === undefined || clientRequestId === requestId
    ? { trace_id: traceId }
    : { trace_id: traceId, client_request_id: clientRequestId };
}

/** Paths that probes and scrapers call every few seconds: not worth a span or an access-log line each. */
const probePaths = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The Fastify app under every listener, service or admin: `/healthz` (the
 * process is alive; it touches no dependency), the request's server span
 * (startServerSpan; every route's handler runs in its context, see
 * docs/adr/0020-traces.md) and trace bound to the request logger as
 * `request_id` and `trace_id`, one access-log line per request, JSON bodies
 * that must be UTF-8, and a JSON refusal in the service's error shape for
 * what the HTTP parser refuses.
 */
export function createBaseApp(options: BaseAppOptions): FastifyInstance {
  // Fastify asks for the request id before any hook runs: the request's span
  // starts then, and its trace is kept for the request.
  const spans = new WeakMap<IncomingMessage, ServerSpan>();
  const traces = new WeakMap<IncomingMessage, RequestTrace>();
  const trustRequestId = options.trustRequestId ?? true;
  const traceOf = (req: IncomingMessage): RequestTrace => {
    const serverSpan = probePaths.has(pathOf(req.url ?? ''))
      ? undefined
      : startServerSpan({ method: req.method ?? 'GET', headers: req.headers });
    if (serverSpan !== undefined) spans.set(req, serverSpan);
    const active = serverSpan?.span.spanContext();
    const requestTraced = requestTrace(req.headers, {
      trustRequestId,
      ...(active && isSpanContextValid(active) ? { activeTraceId: active.traceId } : {}),
    });
    traces.set(req, requestTraced);
    return requestTraced;
  };
  const app = Fastify({
    // Typed as Fastify's logger interface so the app is a plain FastifyInstance.
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimitBytes ?? 1_048_576,
    // Fastify's own per-request lines are off: the onResponse hook below
    // writes one line per request, with the fields our logs always carry.
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    genReqId: (req) => traceOf(req).requestId,
    // One child logger per request, with the trace read by genReqId (a second child per request was a
    // measurable share of a cached read's CPU: pino rebuilds a child's methods).
    childLoggerFactory: (logger, bindings, loggerOptions, req) => {
      const requestTraced = traces.get(req as IncomingMessage);
      return logger.child(requestTraced === undefined ? bindings : { ...bindings, ...traceBindings(requestTraced) }, loggerOptions);
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
  // Every route's handler runs in its request's span: what it calls is part of the request's trace.
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, request, reply) {
      const serverSpan = spans.get(request.raw);
      return serverSpan === undefined
        ? handler.call(this, request, reply)
        : context.with(serverSpan.context, handler, this, request, reply);
    };
  });
  app.addHook('onRequest', async (request) => {
    request.trace = traces.get(request.raw) ?? traceOf(request.raw);
    const { clientRequestId } = request.trace;
    const span = spans.get(request.raw)?.span;
    if (span !== undefined) {
      // The route, not the URL: a span name must not grow with ids in paths. The path alone, never the
      // query string (see pathOf).
      const route = request.routeOptions.url;
      span.setAttributes({ 'http.request.method': request.method, 'url.path': pathOf(request.url) });
      if (route !== undefined) span.updateName(`${request.method} ${route}`).setAttribute('http.route', route);
      if (clientRequestId !== undefined) span.setAttribute('http.request.header.x-request-id', clientRequestId);
    }
  });
  app.addHook('onRequestAbort', async (request) => {
    const serverSpan = spans.get(request.raw);
    serverSpan?.span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection before the answer' });
    serverSpan?.end();
  });
  app.addHook('onResponse', async (request, reply) => {
    spans.get(request.raw)?.end(reply.statusCode);
    const path = pathOf(request.url);
    if (probePaths.has(path)) return;
    request.log.info(
      { method: request.method, path, status: reply.statusCode, duration_ms: Math.round(reply.elapsedTime) },
      'request done',
    );
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
