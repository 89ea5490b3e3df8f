import { describe, expect, it } from 'vitest';
import { isTraceparent, requestTrace, sentTraceId } from './requestTrace';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;

describe('requestTrace', () => {
  it('continues a valid traceparent: its trace id is the request id, whatever x-request-id says', () => {
    expect(requestTrace({ traceparent, 'x-request-id': 'client-1' }, { trustRequestId: true })).toEqual({
      traceId,
      requestId: traceId,
      clientRequestId: 'client-1',
    });
  });

  it('prefers the trace of the span the request runs in', () => {
    const active = 'a'.repeat(32);
    expect(requestTrace({ traceparent }, { trustRequestId: true, activeTraceId: active })).toEqual({ traceId: active, requestId: active });
  });

  it('takes a lone x-request-id as the request id only where it is trusted', () => {
    const trusted = requestTrace({ 'x-request-id': 'legacy-7' }, { trustRequestId: true });
    expect(trusted.requestId).toBe('legacy-7');
    expect(trusted.traceId).toMatch(/^[0-9a-f]{32}$/);
    const edge = requestTrace({ 'x-request-id': 'legacy-7' }, { trustRequestId: false });
    expect(edge).toEqual({ traceId: edge.traceId, requestId: edge.traceId, clientRequestId: 'legacy-7' });
  });

  it('starts a new trace for what is not a traceparent, and ignores a request id that is not one', () => {
    for (const bad of [
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      `00-${traceId}-0000000000000000-01`,
      `ff-${traceId}-00f067aa0ba902b7-01`,
      `00-${traceId.toUpperCase()}-00f067aa0ba902b7-01`,
      'x'.repeat(16_000),
    ]) {
      expect(sentTraceId({ traceparent: bad }), bad.slice(0, 60)).toBeUndefined();
      const started = requestTrace({ traceparent: bad, 'x-request-id': 'has space' }, { trustRequestId: true });
      expect(started.traceId).not.toBe(traceId);
      expect(started).toEqual({ traceId: started.traceId, requestId: started.traceId });
    }
  });

  it('treats a repeated traceparent as absent', () => {
    expect(sentTraceId({ traceparent: [traceparent, traceparent] })).toBeUndefined();
    expect(sentTraceId({ traceparent: [traceparent] })).toBe(traceId);
  });

  it('checks a traceparent as stored with a message', () => {
    expect(isTraceparent(traceparent)).toBe(true);
    expect(isTraceparent('not-a-traceparent')).toBe(false);
  });
});
