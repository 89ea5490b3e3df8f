import { randomBytes } from 'node:crypto';
import { defaultTextMapGetter, isSpanContextValid, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { REQUEST_ID_HEADER, TRACEPARENT_HEADER } from './headers';
import { isCorrelationId } from './scalars';

/** Header values as Node gives them (`req.headers`, Kafka headers decoded to text). */
export type IncomingHeaders = Record<string, string | string[] | undefined>;

/** Which trace a request or message belongs to, and the id its logs and audit rows carry. */
export interface RequestTrace {
  /** The trace it is part of: the one it is traced in, else the one its `traceparent` names, else a new one. */
  traceId: string;
  /** Log/correlation id: the caller's `x-request-id` when it alone came in and is trusted, else `traceId`. */
  requestId: string;
  /** The caller's `x-request-id` when it is a valid one: kept apart, for the logs and audit rows of an edge that does not trust it. */
  clientRequestId?: string;
}

export interface RequestTraceOptions {
  /**
   * Let a lone `x-request-id` become `requestId`. Services behind the
   * gateway and message consumers pass `true`; an internet-facing edge
   * passes `false`, so its correlation id is always a trace id.
   */
  trustRequestId: boolean;
  /** The trace id of the span the work runs in, when it is traced (the HTTP server span). */
  activeTraceId?: string;
}

// The OpenTelemetry W3C propagator parses `traceparent` (also where no SDK runs,
// e.g. with OTEL_SDK_DISABLED): the correlation id of a continued trace is its id.
const w3c = new W3CTraceContextPropagator();

/** The trace id a valid W3C `traceparent` in `headers` names; undefined when there is none. */
export function sentTraceId(headers: IncomingHeaders): string | undefined {
  if (Array.isArray(headers[TRACEPARENT_HEADER]) && headers[TRACEPARENT_HEADER].length !== 1) return undefined;
  const sent = trace.getSpanContext(w3c.extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
  return sent !== undefined && isSpanContextValid(sent) ? sent.traceId : undefined;
}

/** True when `value` is a W3C `traceparent` the propagator accepts. */
export function isTraceparent(value: string): boolean {
  return sentTraceId({ [TRACEPARENT_HEADER]: value }) !== undefined;
}

/**
 * The trace of work that came with `headers` (an HTTP request, a Kafka
 * record): see {@link RequestTrace}. A request id that is not 1..128 visible
 * ASCII is ignored.
 */
export function requestTrace(headers: IncomingHeaders, options: RequestTraceOptions): RequestTrace {
  const sent = sentTraceId(headers);
  const traceId = options.activeTraceId ?? sent ?? randomBytes(16).toString('hex');
  const header = headers[REQUEST_ID_HEADER];
  const clientRequestId = typeof header === 'string' && isCorrelationId(header) ? header : undefined;
  const requestId = sent === undefined && options.trustRequestId && clientRequestId !== undefined ? clientRequestId : traceId;
  return { traceId, requestId, ...(clientRequestId === undefined ? {} : { clientRequestId }) };
}
