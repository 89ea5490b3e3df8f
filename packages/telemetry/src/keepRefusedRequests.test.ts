import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AlwaysOffSampler, AlwaysOnSampler, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { KeepRefusedRequests, recordRequestSpans } from './keepRefusedRequests';

const exported = new InMemorySpanExporter();
afterEach(() => exported.reset());

/** A request: a server span with two children, ended with `status`. */
function request(provider: TracerProvider, status: number, failed = false): string {
  const tracer = provider.getTracer('test');
  const server = tracer.startSpan('POST /graphql', { kind: SpanKind.SERVER });
  const inside = trace.setSpan(context.active(), server);
  for (const name of ['gateway authentication', 'gateway policy']) tracer.startSpan(name, {}, inside).end();
  server.setAttribute('http.response.status_code', status);
  if (failed) server.setStatus({ code: SpanStatusCode.ERROR });
  server.end();
  return server.spanContext().traceId;
}

const provider = (headSampler: AlwaysOffSampler | AlwaysOnSampler) =>
  new TracerProvider({
    sampler: recordRequestSpans(headSampler),
    spanProcessors: [new KeepRefusedRequests(new SimpleSpanProcessor({ exporter: exported }))],
  });

describe('KeepRefusedRequests with recordRequestSpans', () => {
  it("exports the span of a refused or failed request although the head sampler dropped its trace, and nothing of the others'", async () => {
    const dropping = provider(new AlwaysOffSampler());
    request(dropping, 200);
    const refused = request(dropping, 403);
    const failed = request(dropping, 200, true);
    await dropping.forceFlush();
    const spans = exported.getFinishedSpans();
    expect(spans.map((span) => [span.name, span.spanContext().traceId, span.spanContext().traceFlags])).toEqual([
      ['POST /graphql', refused, 1],
      ['POST /graphql', failed, 1],
    ]);
  });

  it('records no span below a dropped request: one span per request is the cost', () => {
    const tracer = provider(new AlwaysOffSampler()).getTracer('test');
    const server = tracer.startSpan('POST /graphql', { kind: SpanKind.SERVER });
    expect(server.isRecording()).toBe(true);
    expect(tracer.startSpan('gateway policy', {}, trace.setSpan(context.active(), server)).isRecording()).toBe(false);
    expect(tracer.startSpan('unleash poll', { kind: SpanKind.CLIENT }).isRecording()).toBe(false);
  });

  it('passes sampled traces through whole', async () => {
    const keeping = provider(new AlwaysOnSampler());
    request(keeping, 200);
    await keeping.forceFlush();
    expect(exported.getFinishedSpans()).toHaveLength(3);
  });
});
