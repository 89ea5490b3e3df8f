import { SpanStatusCode, TraceFlags, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/** How much of the unsampled requests in flight is held while they run. */
export interface KeepRefusedRequestsLimits {
  /** Requests (traces) held at once; the oldest is let go past this. */
  traces: number;
  /** Spans held per request; later ones are dropped. */
  spansPerTrace: number;
}

const defaultLimits: KeepRefusedRequestsLimits = { traces: 2_000, spansPerTrace: 128 };

/**
 * The gateway's tail decision (docs/adr/0020-traces.md): the head sampler
 * keeps a ratio of traces, but a request that was refused (status 4xx) or
 * failed (5xx, or a span in error) is exported whole even when the head
 * sampler said no. Used with a sampler that records every span
 * (`createAlwaysRecordSampler`): sampled spans go straight to `next`;
 * unsampled ones wait until their request's span (the local root) ends, and
 * are then exported if it was refused or failed, else dropped. What waits is
 * bounded by {@link KeepRefusedRequestsLimits}.
 */
export class KeepRefusedRequests implements SpanProcessor {
  private readonly waiting = new Map<string, ReadableSpan[]>();

  constructor(
    private readonly next: SpanProcessor,
    private readonly limits: KeepRefusedRequestsLimits = defaultLimits,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    const { traceId, traceFlags } = span.spanContext();
    if ((traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) return this.next.onEnd(span);
    const parent = span.parentSpanContext;
    if (parent !== undefined && !parent.isRemote) return this.hold(traceId, span);
    const held = this.waiting.get(traceId) ?? [];
    this.waiting.delete(traceId);
    if (!isRefusedOrFailed(span)) return;
    for (const kept of [...held, span]) this.next.onEnd(asSampled(kept));
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    this.waiting.clear();
    return this.next.shutdown();
  }

  /** How many requests have spans waiting for their decision (for tests). */
  get waitingTraces(): number {
    return this.waiting.size;
  }

  private hold(traceId: string, span: ReadableSpan): void {
    const held = this.waiting.get(traceId);
    if (held !== undefined) {
      if (held.length < this.limits.spansPerTrace) held.push(span);
      return;
    }
    if (this.waiting.size >= this.limits.traces) {
      const oldest = this.waiting.keys().next().value;
      if (oldest !== undefined) this.waiting.delete(oldest);
    }
    this.waiting.set(traceId, [span]);
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
