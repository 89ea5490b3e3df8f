import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { envelopeHeaderSchema, eventEnvelopeSchema, messageEnvelopeSchema } from './messageEnvelope';
import { validate, type ValidationIssue } from './validationIssue';

const header = {
  messageId: '0b6f3c1e-8a4e-4c1e-9f6a-2d2b8f0e7a11',
  tenantId: 'acme',
  aggregateType: 'Tenant',
  aggregateId: 'acme',
  type: 'Thing',
  timestamp: '2024-05-01T12:00:00Z',
  correlationId: 'req-1',
  causationId: null,
  schemaVersion: 1,
};

function issuesOf(result: ReturnType<typeof validate>): ValidationIssue[] {
  if (result.ok) throw new Error('expected validation to fail');
  return result.issues;
}

describe('envelopeHeaderSchema', () => {
  it('accepts a header with and without trace context', () => {
    expect(validate(envelopeHeaderSchema, header).ok).toBe(true);
    const traced = {
      ...header,
      causationId: 'b0f1e7c4-0000-4000-8000-000000000001',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'congo=t61rcWkgMzE',
    };
    expect(validate(envelopeHeaderSchema, traced)).toEqual({ ok: true, value: traced });
  });

  it('reports every bad field', () => {
    const input = {
      ...header,
      messageId: 'nope',
      schemaVersion: 0,
      causationId: undefined,
      timestamp: '2024-05-01',
      traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      priority: 'high',
    };
    expect(issuesOf(validate(envelopeHeaderSchema, input)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'messageId:format',
      'timestamp:format',
      'causationId:required',
      'schemaVersion:positive',
      'traceparent:format',
      'priority:unknown_field',
    ]);
  });

  it('requires an integer schemaVersion', () => {
    expect(issuesOf(validate(envelopeHeaderSchema, { ...header, schemaVersion: 1.5 }))).toEqual([
      expect.objectContaining({ path: 'schemaVersion', rule: 'integer' }),
    ]);
  });
});

describe('messageEnvelopeSchema', () => {
  const schema = messageEnvelopeSchema(z.strictObject({ n: z.number() }));

  it('validates the payload with the given schema, with paths under payload', () => {
    expect(validate(schema, { ...header, payload: { n: 1 } }).ok).toBe(true);
    expect(issuesOf(validate(schema, { ...header, payload: { n: '1', m: 2 } })).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'payload.n:type',
      'payload.m:unknown_field',
    ]);
    expect(issuesOf(validate(schema, header))).toEqual([expect.objectContaining({ path: 'payload', rule: 'required' })]);
  });

  it('keeps the header strict', () => {
    expect(issuesOf(validate(schema, { ...header, payload: { n: 1 }, extra: 1 }))).toEqual([
      expect.objectContaining({ path: 'extra', rule: 'unknown_field' }),
    ]);
  });
});

describe('eventEnvelopeSchema', () => {
  const a = eventEnvelopeSchema('A', z.strictObject({ a: z.string() }));
  const b = eventEnvelopeSchema('B', z.strictObject({ b: z.number() }));
  const either = z.discriminatedUnion('type', [a, b]);

  it('pins the type', () => {
    expect(validate(a, { ...header, type: 'A', payload: { a: 'x' } }).ok).toBe(true);
    expect(issuesOf(validate(a, { ...header, type: 'B', payload: { a: 'x' } }))).toEqual([
      expect.objectContaining({ path: 'type', rule: 'enum' }),
    ]);
  });

  it('composes into a discriminated union that picks the payload by type', () => {
    const result = validate(either, { ...header, type: 'B', payload: { b: 2 } });
    expect(result.ok && result.value.type === 'B' && result.value.payload.b).toBe(2);
    expect(issuesOf(validate(either, { ...header, type: 'B', payload: { a: 'x' } })).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'payload.b:required',
      'payload.a:unknown_field',
    ]);
    expect(issuesOf(validate(either, { ...header, type: 'C', payload: {} }))).toEqual([
      expect.objectContaining({ path: 'type', rule: 'enum' }),
    ]);
  });
});
