import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  createAlwaysRecordSampler,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { KeepRefusedRequests } from './keepRefusedRequests';

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

describe('KeepRefusedRequests', () => {
  it('exports a refused or failed request whole although the head sampler dropped it, and drops the rest', async () => {
    const keep = new KeepRefusedRequests(new SimpleSpanProcessor({ exporter: exported }));
    const provider = new TracerProvider({ sampler: createAlwaysRecordSampler(new AlwaysOffSampler()), spanProcessors: [keep] });
    request(provider, 200);
    const refused = request(provider, 403);
    const failed = request(provider, 200, true);
    await provider.forceFlush();
    const spans = exported.getFinishedSpans();
    expect(new Set(spans.map((span) => span.spanContext().traceId))).toEqual(new Set([refused, failed]));
    expect(spans).toHaveLength(6);
    expect(spans.every((span) => span.spanContext().traceFlags === 1)).toBe(true);
    expect(keep.waitingTraces).toBe(0);
  });

  it('passes sampled spans straight through', async () => {
    const provider = new TracerProvider({
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new KeepRefusedRequests(new SimpleSpanProcessor({ exporter: exported }))],
    });
    request(provider, 200);
    await provider.forceFlush();
    expect(exported.getFinishedSpans()).toHaveLength(3);
  });

  it('holds at most the configured number of requests waiting for their decision', async () => {
    const keep = new KeepRefusedRequests(new SimpleSpanProcessor({ exporter: exported }), { traces: 2, spansPerTrace: 1 });
    const provider = new TracerProvider({ sampler: createAlwaysRecordSampler(new AlwaysOffSampler()), spanProcessors: [keep] });
    const tracer = provider.getTracer('test');
    const open: Span[] = [];
    for (let i = 0; i < 5; i += 1) {
      const server = tracer.startSpan('POST /graphql');
      tracer.startSpan('child', {}, trace.setSpan(context.active(), server)).end();
      open.push(server);
    }
    expect(keep.waitingTraces).toBe(2);
    // The newest request was still held: refused, its span and its one child are exported.
    open[4]!.setAttribute('http.response.status_code', 429);
    open[4]!.end();
    await provider.forceFlush();
    expect(exported.getFinishedSpans().map((span) => span.name)).toEqual(['child', 'POST /graphql']);
  });
});
