import { propagation, trace } from '@opentelemetry/api';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { TENANT_ID, TenantAttributeProcessor, setSpanTenant, withTenantBaggage } from './tenantBaggage';

const exported = new InMemorySpanExporter();

describe('TenantAttributeProcessor', () => {
  it('sets tenant.id from the local parent span, over baggage, and from baggage where no parent names one', async () => {
    propagation.setGlobalPropagator(new W3CBaggagePropagator());
    const provider = new TracerProvider({
      spanProcessors: [new TenantAttributeProcessor(), new SimpleSpanProcessor({ exporter: exported })],
    });
    const tracer = provider.getTracer('test');
    const claimed = withTenantBaggage('claimed-by-caller');
    const server = tracer.startSpan('POST /graphql', {}, claimed);
    tracer.startSpan('before authentication', {}, trace.setSpan(claimed, server)).end();
    setSpanTenant('from-token', server);
    tracer.startSpan('after authentication', {}, trace.setSpan(claimed, server)).end();
    server.end();
    tracer.startSpan('untraced tenant').end();
    await provider.forceFlush();
    const tenantOf = Object.fromEntries(exported.getFinishedSpans().map((span) => [span.name, span.attributes[TENANT_ID]]));
    expect(tenantOf).toEqual({
      'before authentication': 'claimed-by-caller',
      'after authentication': 'from-token',
      'POST /graphql': 'from-token',
      'untraced tenant': undefined,
    });
    propagation.disable();
  });
});
