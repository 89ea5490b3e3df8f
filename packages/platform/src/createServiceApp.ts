import { extractTraceContext, type TraceContext } from '@coherence/contracts';
import { isUtf8 } from 'node:buffer';
import { maxHeaderSize, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { LogController, type ConnectionError, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { BodyNotUtf8Error, httpErrorBody, useHttpErrors, type ErrorBodyFormat } from './httpErrors';

/** One dependency the service needs before it can take traffic. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface ServiceAppOptions {
  logger: Logger;
  readinessChecks: readonly ReadinessCheck[];
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
    trace: TraceContext;
  }
}

export interface ServiceApp {
  app: FastifyInstance;
  /** This process's Prometheus registry, served at /metrics; register service metrics here. */
  metrics: Registry;
  /** Makes /readyz answer 503 so load balancers stop sending work before we close. */
  markDraining(): void;
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

/**
 * A Fastify app with the endpoints and request plumbing every process has:
 * `/healthz` (the process is alive), `/readyz` (its dependencies answer and it
 * is not draining), a W3C trace context on every request whose ids are
 * bound to the request logger as `request_id` and `trace_id`, and a JSON
 * refusal in the service's error shape for what the HTTP parser refuses.
 */
export function createServiceApp(options: ServiceAppOptions): ServiceApp {
  let draining = false;
  // Fastify asks for the request id before any hook runs; the trace context
  // made then is kept for the request (making it twice would mint two spans).
  const traces = new WeakMap<IncomingMessage, TraceContext>();
  const traceOptions = { trustRequestId: options.trustRequestId ?? true };
  const app = Fastify({
    // Typed as Fastify's logger interface so the app is a plain FastifyInstance.
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimitBytes ?? 1_048_576,
    // Fastify's own per-request lines are off: the onResponse hook below
    // writes one line per request, with the fields our logs always carry.
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    genReqId: (req) => {
      const trace = extractTraceContext(req.headers, traceOptions);
      traces.set(req, trace);
      return trace.requestId;
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
    request.trace = traces.get(request.raw) ?? extractTraceContext(request.headers, traceOptions);
    const { clientRequestId } = request.trace;
    request.log = request.log.child({
      trace_id: request.trace.traceparent.traceId,
      ...(clientRequestId === undefined || clientRequestId === request.id ? {} : { client_request_id: clientRequestId }),
    });
  });
  app.addHook('onResponse', async (request, reply) => {
    const path = pathOf(request.url);
    if (path === '/healthz' || path === '/readyz' || path === '/metrics') return;
    request.log.info(
      { method: request.method, path, status: reply.statusCode, duration_ms: Math.round(reply.elapsedTime) },
      'request done',
    );
  });

  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics],
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route === '/metrics') return;
    requestDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1_000);
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(
      options.readinessChecks.map(async ({ name, check }) => {
        try {
          await check();
          return { name, ok: true as const };
        } catch (error) {
          return { name, ok: false as const, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    const ready = !draining && results.every((r) => r.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : draining ? 'draining' : 'not_ready', checks: results });
  });

  return {
    app,
    metrics,
    markDraining: () => {
      draining = true;
    },
  };
}
