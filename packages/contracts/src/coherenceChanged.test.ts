import { describe, expect, it } from 'vitest';
import {
  COHERENCE_CHANGED,
  coherenceChangedMessageSchema,
  decodeCoherenceChangedMessage,
  coherenceChangedSchema,
  createCoherenceChangedMessage,
  type CoherenceChanged,
} from './coherenceChanged';
import { validate, type ValidationIssue } from './validationIssue';

const changed: CoherenceChanged = {
  tenantId: 'acme',
  previous: { score: 0.8, status: 'HEALTHY' },
  current: {
    tenantId: 'acme',
    score: 0.6,
    status: 'WARN',
    agreement: 1,
    window: 'PT24H',
    updatedAt: '2024-05-01T12:00:00Z',
    asOf: '2024-05-01T11:59:59.5Z',
    sources: [{ source: 'billing-api', score: 0.6, count: 4, weight: 4 }],
  },
  changedAt: '2024-05-01T12:00:01Z',
};

function issuesOf(result: ReturnType<typeof validate>): ValidationIssue[] {
  if (result.ok) throw new Error('expected validation to fail');
  return result.issues;
}

describe('coherenceChangedSchema', () => {
  it('accepts a change and a first score (previous null)', () => {
    expect(validate(coherenceChangedSchema, changed)).toEqual({ ok: true, value: changed });
    expect(validate(coherenceChangedSchema, { ...changed, previous: null }).ok).toBe(true);
  });

  it('rejects a current score of another tenant', () => {
    const input = { ...changed, current: { ...changed.current, tenantId: 'other' } };
    expect(issuesOf(validate(coherenceChangedSchema, input))).toEqual([
      expect.objectContaining({ path: 'current.tenantId', rule: 'tenant_mismatch' }),
    ]);
  });

  it('validates nested shapes with full paths', () => {
    const input = { ...changed, previous: { score: 0.8, status: 'GOOD', delta: 1 }, changedAt: 'now' };
    expect(issuesOf(validate(coherenceChangedSchema, input)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'previous.status:enum',
      'previous.delta:unknown_field',
      'changedAt:format',
    ]);
  });
});

describe('coherenceChangedMessageSchema', () => {
  const message = {
    messageId: crypto.randomUUID(),
    tenantId: 'acme',
    aggregateType: 'Tenant',
    aggregateId: 'acme',
    type: COHERENCE_CHANGED,
    timestamp: '2024-05-01T12:00:01Z',
    correlationId: '4bf92f3577b34da6a3ce929d0e0e4736',
    causationId: null,
    schemaVersion: 1,
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    payload: changed,
  };

  it('accepts an enveloped change', () => {
    expect(validate(coherenceChangedMessageSchema, message)).toEqual({ ok: true, value: message });
  });

  it('decodes a pub/sub message, and nothing from text that is not JSON or not the contract', () => {
    expect(decodeCoherenceChangedMessage(JSON.stringify(message))).toEqual(message);
    expect(decodeCoherenceChangedMessage('{not json')).toBeUndefined();
    expect(decodeCoherenceChangedMessage(JSON.stringify({ ...message, tenantId: 'other' }))).toBeUndefined();
  });

  it('decodes a message written before sources carried their weight and the score its asOf', () => {
    const { asOf: _notYetCarried, ...withoutAsOf } = changed.current;
    const current = { ...withoutAsOf, sources: [{ source: 'billing-api', score: 0.6, count: 4 }] };
    const older = { ...message, payload: { ...changed, current } };
    expect(decodeCoherenceChangedMessage(JSON.stringify(older))).toEqual(older);
  });

  it('pins the type and the tenant', () => {
    expect(issuesOf(validate(coherenceChangedMessageSchema, { ...message, type: 'SignalsAccepted' }))).toEqual([
      expect.objectContaining({ path: 'type', rule: 'enum' }),
    ]);
    expect(issuesOf(validate(coherenceChangedMessageSchema, { ...message, tenantId: 'other' }))).toEqual([
      expect.objectContaining({ path: 'payload.tenantId', rule: 'tenant_mismatch' }),
    ]);
  });
});

describe('createCoherenceChangedMessage', () => {
  it('wraps a change in an envelope that passes the message contract', () => {
    const at = '2026-11-24T12:00:00.000Z';
    const message = createCoherenceChangedMessage({
      change: {
        tenantId: 'acme',
        previous: { score: 0.9, status: 'HEALTHY' },
        current: {
          tenantId: 'acme',
          score: 0.6,
          status: 'WARN',
          agreement: 1,
          window: 'PT24H',
          updatedAt: at,
          sources: [{ source: 'api', score: 0.6, count: 2 }],
        },
        changedAt: at,
      },
      timestamp: at,
      correlationId: 'req-1',
    });
    expect(validate(coherenceChangedMessageSchema, message)).toEqual({ ok: true, value: message });
    expect(message).toMatchObject({ aggregateType: 'Tenant', aggregateId: 'acme', type: COHERENCE_CHANGED, causationId: null });
    expect(message).not.toHaveProperty('traceparent');
  });

  it('carries the trace headers of the work that made the change', () => {
    const at = '2026-11-24T12:00:00.000Z';
    const trace = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', baggage: 'tenant.id=acme' };
    const message = createCoherenceChangedMessage({
      change: {
        tenantId: 'acme',
        previous: null,
        current: {
          tenantId: 'acme',
          score: 0.6,
          status: 'WARN',
          agreement: 1,
          window: 'PT24H',
          updatedAt: at,
          sources: [{ source: 'api', score: 0.6, count: 2 }],
        },
        changedAt: at,
      },
      timestamp: at,
      correlationId: 'req-1',
      trace,
    });
    expect(validate(coherenceChangedMessageSchema, message)).toEqual({ ok: true, value: message });
    expect(message).toMatchObject(trace);
  });
});
