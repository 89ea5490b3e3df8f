import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keepRefusedRequestSpans, keepTailKeptSpans, ReplayableIdGenerator, startServerSpan, TAIL_KEPT } from './serverSpans';
import { inSpan, traceHeadersOf } from './spans';
import { setSpanTenant, TenantAttributeProcessor } from './tenantBaggage';

const exported = new InMemorySpanExporter();
const provider = new TracerProvider({
  // New traces are all dropped: only a caller's sampled flag records one.
  sampler: keepTailKeptSpans(new ParentBasedSampler({ root: new AlwaysOffSampler() })),
  idGenerator: new ReplayableIdGenerator(),
  spanProcessors: [new TenantAttributeProcessor(), new SimpleSpanProcessor({ exporter: exported })],
});

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
});
afterEach(() => {
  exported.reset();
  keepRefusedRequestSpans(false);
});
afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});

const callerTraceId = 'a'.repeat(32);
const callerSpanId = 'b'.repeat(16);
/** A caller's headers: its trace, sampled or not, and baggage naming a tenant it has no token for. */
const callerHeaders = (sampled: boolean) => ({
  traceparent: `00-${callerTraceId}-${callerSpanId}-${sampled ? '01' : '00'}`,
  baggage: 'tenant.id=victim',
});

/** What the exporter got, in the fields the tail decision must get right. */
const exportedSpans = () =>
  exported.getFinishedSpans().map((span: ReadableSpan) => ({
    name: span.name,
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    sampled: span.spanContext().traceFlags === TraceFlags.SAMPLED,
    parentSpanId: span.parentSpanContext?.spanId,
    tenant: span.attributes['tenant.id'],
    status: span.attributes['http.response.status_code'],
    kept: span.attributes[TAIL_KEPT],
  }));

describe('startServerSpan', () => {
  it("records a sampled caller's request as a child of the caller's span, with what its work does beneath it", async () => {
    const request = startServerSpan({ method: 'POST', headers: callerHeaders(true) });
    expect(request.span.isRecording()).toBe(true);
    request.span.updateName('POST /graphql');
    await context.with(request.context, () => inSpan('gateway policy', {}, async () => undefined));
    request.end(200);
    expect(exportedSpans()).toEqual([
      expect.objectContaining({ name: 'gateway policy', traceId: callerTraceId, parentSpanId: request.span.spanContext().spanId }),
      expect.objectContaining({ name: 'POST /graphql', traceId: callerTraceId, parentSpanId: callerSpanId, status: 200, kept: undefined }),
    ]);
  });

  it('continues a dropped trace unsampled: the span names the trace for logs and calls downstream, and nothing is recorded', async () => {
    keepRefusedRequestSpans(true);
    const request = startServerSpan({ method: 'POST', headers: callerHeaders(false) });
    expect(request.span.isRecording()).toBe(false);
    const downstream = context.with(request.context, () => traceHeadersOf());
    expect(downstream.traceparent).toBe(`00-${callerTraceId}-${request.span.spanContext().spanId}-00`);
    // The caller's baggage goes on with the work.
    expect(downstream.baggage).toBe('tenant.id=victim');
    await context.with(request.context, () => inSpan('gateway policy', {}, async () => undefined));
    request.end(200);
    expect(exported.getFinishedSpans()).toEqual([]);
  });

  it('exports a refused request of a dropped trace after the fact, with the ids it was answered with and its verified tenant', () => {
    keepRefusedRequestSpans(true);
    const request = startServerSpan({ method: 'POST', headers: callerHeaders(false) });
    const answered = context.with(request.context, () => traceHeadersOf()).traceparent;
    request.span.updateName('POST /graphql');
    setSpanTenant('acme', request.span);
    request.span.setAttribute('coherence.refusal.code', 'FORBIDDEN');
    request.end(403);
    expect(exportedSpans()).toEqual([
      {
        name: 'POST /graphql',
        traceId: callerTraceId,
        spanId: request.span.spanContext().spanId,
        sampled: true,
        parentSpanId: callerSpanId,
        tenant: 'acme',
        status: 403,
        kept: 'refused',
      },
    ]);
    expect(answered).toBe(`00-${callerTraceId}-${request.span.spanContext().spanId}-00`);
    expect(exported.getFinishedSpans()[0]!.attributes['coherence.refusal.code']).toBe('FORBIDDEN');
  });

  it('keeps a failed request of a new trace under the trace id it was given, as a root span, once however often it ends', () => {
    keepRefusedRequestSpans(true);
    const request = startServerSpan({ method: 'GET', headers: {} });
    request.span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection before the answer' });
    request.end();
    request.end(200);
    expect(exportedSpans()).toEqual([
      expect.objectContaining({
        traceId: request.span.spanContext().traceId,
        spanId: request.span.spanContext().spanId,
        parentSpanId: undefined,
      }),
    ]);
    expect(exportedSpans()[0]).toMatchObject({ kept: 'failed', tenant: undefined, sampled: true });
    expect(exported.getFinishedSpans()[0]!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('exports a 5xx of a dropped trace as failed, and nothing of a dropped trace when the tail decision is off', () => {
    keepRefusedRequestSpans(true);
    startServerSpan({ method: 'POST', headers: {} }).end(503);
    expect(exportedSpans().map((span) => span.kept)).toEqual(['failed']);
    exported.reset();
    keepRefusedRequestSpans(false);
    startServerSpan({ method: 'POST', headers: {} }).end(403);
    expect(exported.getFinishedSpans()).toEqual([]);
  });

  it('gives every other span a random id after a kept one (the replayed ids are used once)', () => {
    keepRefusedRequestSpans(true);
    const refused = startServerSpan({ method: 'POST', headers: {} });
    refused.end(401);
    const next = trace.getTracer('test').startSpan('next', {}, ROOT_CONTEXT);
    expect(next.spanContext().traceId).not.toBe(refused.span.spanContext().traceId);
    expect(next.spanContext().spanId).not.toBe(refused.span.spanContext().spanId);
  });
});
