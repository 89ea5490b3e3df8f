import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, ParentBasedSampler, AlwaysOnSampler, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inClientSpan, inSpan } from './spans';

const exported = new InMemorySpanExporter();

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new TracerProvider({
      sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      spanProcessors: [new SimpleSpanProcessor({ exporter: exported })],
    }),
  );
});
afterAll(() => {
  trace.disable();
  context.disable();
});

/** A context continuing a caller's trace, sampled or not. */
const callerContext = (traceFlags: TraceFlags) =>
  trace.setSpanContext(ROOT_CONTEXT, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags, isRemote: true });

describe('inSpan', () => {
  it('records a span under a sampled parent, active for the work', async () => {
    exported.reset();
    const activeSpanId = await inSpan('step', { parent: callerContext(TraceFlags.SAMPLED) }, async (span) => {
      expect(span.isRecording()).toBe(true);
      return trace.getActiveSpan()?.spanContext().spanId;
    });
    expect(exported.getFinishedSpans().map((span) => [span.name, span.spanContext().spanId])).toEqual([['step', activeSpanId]]);
  });

  it("starts no span under a parent whose trace was dropped, and runs the work in the parent's context", async () => {
    exported.reset();
    const seen = await inSpan('step', { parent: callerContext(TraceFlags.NONE) }, async (span) => {
      span.setAttribute('ignored', true);
      return { recording: span.isRecording(), active: trace.getActiveSpan()?.spanContext() };
    });
    expect(seen.recording).toBe(false);
    expect(seen.active).toMatchObject({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.NONE });
    expect(exported.getFinishedSpans()).toEqual([]);
  });

  it('throws on what the work throws, sampled or not', async () => {
    const failing = async () => Promise.reject(new Error('boom'));
    await expect(inSpan('step', { parent: callerContext(TraceFlags.NONE) }, failing)).rejects.toThrow('boom');
    exported.reset();
    await expect(inSpan('step', { parent: callerContext(TraceFlags.SAMPLED) }, failing)).rejects.toThrow('boom');
    expect(exported.getFinishedSpans().map((span) => span.status.code)).toEqual([SpanStatusCode.ERROR]);
  });
});

describe('inClientSpan', () => {
  const call = (span: unknown) => Promise.resolve(span === undefined ? 'no span' : 'span');

  it('records a client span inside recorded work, with its attributes', async () => {
    exported.reset();
    const seen = await inSpan('request', { parent: callerContext(TraceFlags.SAMPLED) }, () =>
      inClientSpan(() => ({ name: 'POST', attributes: { 'url.full': 'http://subgraph/graphql' } }), call),
    );
    expect(seen).toBe('span');
    const [client] = exported.getFinishedSpans().filter((span) => span.name === 'POST');
    expect(client).toMatchObject({ kind: SpanKind.CLIENT, attributes: { 'url.full': 'http://subgraph/graphql' } });
  });

  it('runs the call without a span, and without describing one, under a dropped trace and outside any span', async () => {
    exported.reset();
    let described = 0;
    const describe = () => ((described += 1), { name: 'POST', attributes: {} });
    expect(await inSpan('request', { parent: callerContext(TraceFlags.NONE) }, () => inClientSpan(describe, call))).toBe('no span');
    expect(await inClientSpan(describe, call)).toBe('no span');
    expect(exported.getFinishedSpans()).toEqual([]);
    expect(described).toBe(0);
  });
});
