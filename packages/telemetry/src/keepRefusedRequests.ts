import {
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
} from '@opentelemetry/api';
import {
  SamplingDecision,
  type ReadableSpan,
  type Sampler,
  type SamplingResult,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';

/**
 * The gateway's tail decision, first half (docs/adr/0020-traces.md): where
 * the head sampler drops a trace, the request's own span (a server span with
 * no local parent) is still recorded, unsampled, so that
 * {@link KeepRefusedRequests} can export it if the request is refused or
 * fails. Nothing else of a dropped trace is recorded: one span per request
 * is the whole cost.
 */
export function recordRequestSpans(headSampler: Sampler): Sampler {
  return {
    shouldSample(context: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
      const result = headSampler.shouldSample(context, traceId, name, kind, attributes, links);
      if (result.decision !== SamplingDecision.NOT_RECORD || kind !== SpanKind.SERVER) return result;
      const parent = trace.getSpanContext(context);
      const localRoot = parent === undefined || !isSpanContextValid(parent) || parent.isRemote === true;
      return localRoot ? { ...result, decision: SamplingDecision.RECORD } : result;
    },
    toString: () => `RecordRequestSpans{${headSampler.toString()}}`,
  };
}

/**
 * The gateway's tail decision, second half: sampled spans go straight to
 * `next`; a recorded but unsampled one (a request's span, see
 * {@link recordRequestSpans}) is exported, flagged sampled, when the request
 * was refused (HTTP status 4xx) or failed (5xx, or the span is in error),
 * and dropped otherwise.
 */
export class KeepRefusedRequests implements SpanProcessor {
  constructor(private readonly next: SpanProcessor) {}

  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    const sampled = (span.spanContext().traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
    if (sampled) this.next.onEnd(span);
    else if (isRefusedOrFailed(span)) this.next.onEnd(asSampled(span));
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}

/** A refusal or a failure: an error status, or an HTTP status of 400 or more (old and stable semantic conventions). */
export function isRefusedOrFailed(span: ReadableSpan): boolean {
  if (span.status.code === SpanStatusCode.ERROR) return true;
  const status = span.attributes['http.response.status_code'] ?? span.attributes['http.status_code'];
  return typeof status === 'number' && status >= 400;
}

/** The same span, flagged sampled, so the batch processor exports it. */
function asSampled(span: ReadableSpan): ReadableSpan {
  const spanContext = { ...span.spanContext(), traceFlags: span.spanContext().traceFlags | TraceFlags.SAMPLED };
  return Object.assign(Object.create(span) as ReadableSpan, { spanContext: () => spanContext });
}
