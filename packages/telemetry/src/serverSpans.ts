import {
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type Link,
  type Span,
  type SpanContext,
  type SpanStatus,
  type TimeInput,
} from '@opentelemetry/api';
import type { IdGenerator, Sampler, SamplingResult } from '@opentelemetry/sdk-trace';
import { RandomIdGenerator, SamplingDecision } from '@opentelemetry/sdk-trace';
import { performance } from 'node:perf_hooks';
import { tracer } from './spans';

/**
 * The attribute that marks a span exported by the tail decision: a refused
 * or failed request whose trace the head sampler had dropped
 * (docs/adr/0020-traces.md). Its value says why it was kept.
 */
export const TAIL_KEPT = 'coherence.tail_kept';

/** A request's server span and the context its work runs in (see {@link startServerSpan}). */
export interface ServerSpan {
  /** Recording when the trace is sampled; otherwise one that names the trace for logs and calls downstream and keeps nothing but its own attributes. */
  readonly span: Span;
  /** The context to run the request's work in: the caller's trace and baggage, with this span. */
  readonly context: Context;
  /** Ends the span with the response's status (none when the client went away first); once, later calls do nothing. */
  end(statusCode?: number): void;
}

export interface ServerSpanOptions {
  /** `GET`, `POST`, …; the span is named `METHOD route` once the route is known (`updateName`). */
  method: string;
  /** The request's headers: `traceparent`, `tracestate` and `baggage` are continued from them. */
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The tail decision, on in the gateway (startTelemetry's
 * `keepRefusedRequests`): a request refused (status ≥ 400) or failed whose
 * trace the head sampler dropped is exported all the same, as its one span,
 * when it ends.
 */
let keepRefused = false;

/** Turns the tail decision on or off for this process (startTelemetry does). */
export function keepRefusedRequestSpans(enabled: boolean): void {
  keepRefused = enabled;
}

/**
 * Starts the server span of an HTTP request, in place of the generic HTTP
 * server instrumentation, whose attributes and event-emitter bindings were
 * most of tracing's cost in the gateway (docs/adr/0020-traces.md). A sampled
 * request gets an ordinary span. A dropped one gets a span the SDK never
 * sees: it carries the trace id and a span id of its own (so logs and calls
 * downstream continue the trace, unsampled), and under the tail decision it
 * collects its attributes in a plain object, which is exported after the
 * fact only if the request is refused or fails.
 */
export function startServerSpan(options: ServerSpanOptions): ServerSpan {
  const parent = propagation.extract(ROOT_CONTEXT, options.headers);
  const name = options.method;
  const startTime = now();
  const started = tracer().startSpan(name, { kind: SpanKind.SERVER, startTime }, parent);
  const dropped = keepRefused && !started.isRecording() && isSpanContextValid(started.spanContext());
  const span = dropped ? new PendingSpan(started.spanContext(), name) : started;
  let ended = false;
  return {
    span,
    context: trace.setSpan(parent, span),
    end(statusCode?: number) {
      if (ended) return;
      ended = true;
      if (statusCode !== undefined) span.setAttribute('http.response.status_code', statusCode);
      if (statusCode !== undefined && statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      if (span instanceof PendingSpan) span.exportIfRefused(parent, startTime, now());
      else span.end();
    },
  };
}

/** Milliseconds since the epoch, with the monotonic clock's precision. */
const now = () => performance.timeOrigin + performance.now();

/**
 * The ids the next span the SDK starts gets, when set: how a request's span
 * is exported after the fact with the trace and span id the request was
 * answered and logged with. Set and used within one synchronous call.
 */
let replayIds: { traceId: string; spanId: string } | undefined;

/** The SDK's id generator, which hands out {@link replayIds} when they are set (startTelemetry installs it). */
export class ReplayableIdGenerator implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  generateTraceId(): string {
    return replayIds?.traceId ?? this.random.generateTraceId();
  }
  generateSpanId(): string {
    return replayIds?.spanId ?? this.random.generateSpanId();
  }
}

/** The head sampler, except that a span marked {@link TAIL_KEPT} is always recorded and sampled. */
export function keepTailKeptSpans(headSampler: Sampler): Sampler {
  return {
    shouldSample(context: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
      if (attributes[TAIL_KEPT] !== undefined) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      return headSampler.shouldSample(context, traceId, name, kind, attributes, links);
    },
    toString: () => `KeepTailKeptSpans{${headSampler.toString()}}`,
  };
}

/**
 * The span of a request whose trace was dropped: the API's span with
 * nothing behind it but a name, attributes and a status in plain fields.
 * It is not recording, so instrumentations record nothing under it.
 */
class PendingSpan implements Span {
  private readonly attributes: Attributes = {};
  private status: SpanStatus = { code: SpanStatusCode.UNSET };

  constructor(
    private readonly context: SpanContext,
    private name: string,
  ) {}

  spanContext(): SpanContext {
    return this.context;
  }
  setAttribute(key: string, value: AttributeValue): this {
    this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  updateName(name: string): this {
    this.name = name;
    return this;
  }
  end(): void {}
  isRecording(): boolean {
    return false;
  }
  recordException(exception: Exception): void {
    this.setStatus({ code: SpanStatusCode.ERROR, ...(typeof exception === 'string' ? { message: exception } : {}) });
  }

  /** Exports it, with the ids it was answered with, when the request was refused or failed; forgets it otherwise. */
  exportIfRefused(parent: Context, startTime: TimeInput, endTime: TimeInput): void {
    const status = this.attributes['http.response.status_code'];
    const failed = this.status.code === SpanStatusCode.ERROR;
    if (!failed && !(typeof status === 'number' && status >= 400)) return;
    // The caller's span as the parent, without its baggage: the tenant is the verified one set on this span.
    const callerSpan = trace.getSpanContext(parent);
    const exportParent = callerSpan === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, callerSpan);
    replayIds = { traceId: this.context.traceId, spanId: this.context.spanId };
    let span: Span;
    try {
      span = tracer().startSpan(
        this.name,
        { kind: SpanKind.SERVER, startTime, attributes: { ...this.attributes, [TAIL_KEPT]: failed ? 'failed' : 'refused' } },
        exportParent,
      );
    } finally {
      replayIds = undefined;
    }
    // Set again after the processors' onStart, which would otherwise name the tenant from nothing or the caller's baggage.
    span.setAttributes(this.attributes);
    span.setStatus(this.status);
    span.end(endTime);
  }
}
