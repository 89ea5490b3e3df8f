import {
  context as contextApi,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';

/**
 * The trace headers stored or sent with an asynchronous message (outbox
 * rows, Kafka records, pub/sub messages, bus commands): W3C `traceparent`,
 * `tracestate` and `baggage`, as the propagators write them.
 */
export interface TraceHeaders {
  traceparent?: string;
  tracestate?: string;
  baggage?: string;
}

/** The tracer of this codebase's own spans. */
export const tracer = () => trace.getTracer('coherence');

/** The headers that continue `context` (default: the active one) elsewhere; none when nothing is traced. */
export function traceHeadersOf(context: Context = contextApi.active()): TraceHeaders {
  const carrier: Record<string, string> = {};
  propagation.inject(context, carrier);
  return {
    ...(carrier['traceparent'] === undefined ? {} : { traceparent: carrier['traceparent'] }),
    ...(carrier['tracestate'] === undefined ? {} : { tracestate: carrier['tracestate'] }),
    ...(carrier['baggage'] === undefined ? {} : { baggage: carrier['baggage'] }),
  };
}

/** The context a message's stored trace headers continue (a new trace when they are absent or invalid). */
export function contextOf(headers: TraceHeaders): Context {
  return propagation.extract(ROOT_CONTEXT, headers);
}

export interface SpanOptions {
  kind?: SpanKind;
  /** The context to start in; default the active one. A consumer passes {@link contextOf} its message. */
  parent?: Context;
  attributes?: Attributes;
}

/**
 * Runs `work` in a new span, active for everything it calls: an error it
 * throws marks the span as failed (and is thrown on), and the span ends when
 * `work` settles. For the steps no instrumentation sees: the gateway's own
 * steps, Neo4j calls, message handling.
 */
export function inSpan<T>(name: string, options: SpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  const parent = options.parent ?? contextApi.active();
  // Under a parent whose trace the head sampler dropped, the default parent-based sampler (and the
  // trace-id ratio) would record nothing: the work runs in the parent's context without starting a
  // span or switching context for one, a cost every unsampled request paid (docs/adr/0020-traces.md).
  const parentSpan = trace.getSpanContext(parent);
  if (parentSpan !== undefined && isSpanContextValid(parentSpan) && (parentSpan.traceFlags & TraceFlags.SAMPLED) === 0) {
    const dropped = trace.wrapSpanContext(parentSpan);
    return options.parent === undefined ? work(dropped) : contextApi.with(parent, () => work(dropped));
  }
  const span = tracer().startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}) },
    parent,
  );
  return contextApi.with(trace.setSpan(parent, span), async () => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Runs `call`, an outgoing call, in a client span named and described by
 * `describe`, but only inside recorded work, as the `pg` instrumentation's
 * `requireParentSpan` does: with no span around it, or under one whose
 * trace was dropped, it runs as it is (`span` undefined), and `describe` is
 * not even called. For the calls no library instrumentation traces here:
 * Neo4j queries, and the gateway's subgraph fetches and Postgres queries.
 */
export function inClientSpan<T>(
  describe: () => { name: string; attributes: Attributes },
  call: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!inRecordedWork()) return call(undefined);
  const { name, attributes } = describe();
  return inSpan(name, { kind: SpanKind.CLIENT, attributes }, call);
}

/** A statement's first keyword, upper-cased (`SELECT`, `MERGE`), as database spans name their operation; `QUERY` when none. */
export const statementKeyword = (statement: string): string => /^\s*(\w+)/.exec(statement)?.[1]?.toUpperCase() ?? 'QUERY';

/** Whether the active span records, i.e. the work is part of a sampled trace: what {@link inClientSpan} asks first. */
export const inRecordedWork = (): boolean => trace.getActiveSpan()?.isRecording() === true;

export { SpanKind };
