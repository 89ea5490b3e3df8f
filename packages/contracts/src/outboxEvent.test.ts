import { describe, expect, it } from 'vitest';
import { outboxEventSchema, SIGNALS_ACCEPTED, signalsAcceptedEventSchema, type OutboxEvent } from './outboxEvent';
import { validate, type ValidationIssue } from './validationIssue';

const provenance = { purpose: 'monitoring', retention: 'P90D', license: 'internal', residency: 'eu' };

function acceptedSignal(index: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tenantId: 'acme',
    source: 'billing-api',
    signalId: `sig-${index}`,
    ts: '2024-05-01T11:00:00Z',
    type: 'latency_slo',
    value: 0.5,
    weight: 1,
    provenance,
    receivedAt: '2024-05-01T11:00:01Z',
    ...overrides,
  };
}

const event = {
  messageId: '0b6f3c1e-8a4e-4c1e-9f6a-2d2b8f0e7a11',
  tenantId: 'acme',
  aggregateType: 'Tenant',
  aggregateId: 'acme',
  type: SIGNALS_ACCEPTED,
  timestamp: '2024-05-01T11:00:01Z',
  correlationId: '4bf92f3577b34da6a3ce929d0e0e4736',
  causationId: null,
  schemaVersion: 1,
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  payload: { signals: [acceptedSignal(0), acceptedSignal(1)] },
};

function issuesOf(result: ReturnType<typeof validate>): ValidationIssue[] {
  if (result.ok) throw new Error('expected validation to fail');
  return result.issues;
}

describe('signalsAcceptedEventSchema', () => {
  it('accepts a SignalsAccepted event', () => {
    expect(SIGNALS_ACCEPTED).toBe('SignalsAccepted');
    expect(validate(signalsAcceptedEventSchema, event)).toEqual({ ok: true, value: event });
  });

  it('requires complete stored signals (provenance, weight, receivedAt)', () => {
    const { provenance: _p, weight: _w, ...bare } = acceptedSignal(0);
    const input = { ...event, payload: { signals: [bare] } };
    expect(issuesOf(validate(signalsAcceptedEventSchema, input)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'payload.signals[0].weight:required',
      'payload.signals[0].provenance:required',
    ]);
  });

  it('rejects an empty payload', () => {
    expect(issuesOf(validate(signalsAcceptedEventSchema, { ...event, payload: { signals: [] } }))).toEqual([
      expect.objectContaining({ path: 'payload.signals', rule: 'too_few' }),
    ]);
  });

  it('keeps one event about one tenant', () => {
    const input = { ...event, aggregateId: 'other', payload: { signals: [acceptedSignal(0), acceptedSignal(1, { tenantId: 'evil' })] } };
    expect(issuesOf(validate(signalsAcceptedEventSchema, input)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'aggregateId:tenant_mismatch',
      'payload.signals[1].tenantId:tenant_mismatch',
    ]);
  });

  it('pins aggregateType to Tenant', () => {
    expect(issuesOf(validate(signalsAcceptedEventSchema, { ...event, aggregateType: 'Signal' }))).toEqual([
      expect.objectContaining({ path: 'aggregateType', rule: 'enum' }),
    ]);
  });
});

describe('outboxEventSchema', () => {
  it('parses a SignalsAccepted event and narrows on type', () => {
    const result = validate(outboxEventSchema, event);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const value: OutboxEvent = result.value;
    switch (value.type) {
      case 'SignalsAccepted':
        expect(value.payload.signals).toHaveLength(2);
        break;
      default: {
        const exhaustive: never = value.type;
        throw new Error(`unexpected ${String(exhaustive)}`);
      }
    }
  });

  it('rejects an unknown event type at type', () => {
    expect(issuesOf(validate(outboxEventSchema, { ...event, type: 'SignalsRejected' }))).toEqual([
      expect.objectContaining({ path: 'type', rule: 'enum' }),
    ]);
  });
});
