import { describe, expect, it } from 'vitest';
import { createSignalBatchSchema, signalBatchSchema } from './signalBatch';
import { validate, type ValidationIssue } from './validationIssue';

const NOW = new Date('2024-05-01T12:00:00.000Z');

function signal(index: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tenantId: 'acme',
    source: 'billing-api',
    signalId: `sig-${index}`,
    ts: '2024-05-01T11:00:00Z',
    type: 'latency_slo',
    value: 0.5,
    ...overrides,
  };
}

function batch(count: number): { signals: Record<string, unknown>[] } {
  return { signals: Array.from({ length: count }, (_, i) => signal(i)) };
}

function issuesOf(result: ReturnType<typeof validate>): ValidationIssue[] {
  if (result.ok) throw new Error('expected validation to fail');
  return result.issues;
}

describe('signalBatchSchema', () => {
  it('accepts 1 and 1000 signals', () => {
    expect(validate(signalBatchSchema, batch(1)).ok).toBe(true);
    expect(validate(signalBatchSchema, batch(1000)).ok).toBe(true);
  });

  it('rejects 1001 signals with too_many at signals', () => {
    expect(issuesOf(validate(signalBatchSchema, batch(1001)))).toEqual([expect.objectContaining({ path: 'signals', rule: 'too_many' })]);
  });

  it('rejects an empty batch with too_few', () => {
    expect(issuesOf(validate(signalBatchSchema, batch(0)))).toEqual([expect.objectContaining({ path: 'signals', rule: 'too_few' })]);
  });

  it('rejects a missing or non-array signals field', () => {
    expect(issuesOf(validate(signalBatchSchema, {}))).toEqual([expect.objectContaining({ path: 'signals', rule: 'required' })]);
    expect(issuesOf(validate(signalBatchSchema, { signals: {} }))).toEqual([expect.objectContaining({ path: 'signals', rule: 'type' })]);
  });

  it('locates problems in elements by index and lists them all', () => {
    const input = { signals: [signal(0), signal(1, { value: 1.0001 }), signal(2, { weight: 0, extra: 'x' })], meta: 1 };
    expect(issuesOf(validate(signalBatchSchema, input)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'signals[1].value:max',
      'signals[2].weight:positive',
      'signals[2].extra:unknown_field',
      'meta:unknown_field',
    ]);
  });

  it('returns signals with weights defaulted', () => {
    const result = validate(signalBatchSchema, { signals: [signal(0), signal(1, { weight: 3 })] });
    expect(result.ok && result.value.signals.map((s) => s.weight)).toEqual([1, 3]);
  });
});

describe('createSignalBatchSchema', () => {
  it('applies the clock check to every signal', () => {
    const schema = createSignalBatchSchema({ now: () => NOW });
    const input = { signals: [signal(0), signal(1, { ts: '2024-05-01T12:06:00Z' })] };
    expect(issuesOf(validate(schema, input))).toEqual([expect.objectContaining({ path: 'signals[1].ts', rule: 'not_future' })]);
  });

  it('defaults to 1000 signals at most', () => {
    const schema = createSignalBatchSchema({ now: () => NOW });
    expect(validate(schema, batch(1000)).ok).toBe(true);
    expect(issuesOf(validate(schema, batch(1001)))).toEqual([expect.objectContaining({ path: 'signals', rule: 'too_many' })]);
  });

  it('honours maxSignals and maxFutureSkewMs', () => {
    const schema = createSignalBatchSchema({ now: () => NOW, maxSignals: 2, maxFutureSkewMs: 0 });
    expect(validate(schema, batch(2)).ok).toBe(true);
    expect(issuesOf(validate(schema, batch(3)))).toEqual([expect.objectContaining({ path: 'signals', rule: 'too_many' })]);
    expect(issuesOf(validate(schema, { signals: [signal(0, { ts: '2024-05-01T12:00:01Z' })] }))).toEqual([
      expect.objectContaining({ path: 'signals[0].ts', rule: 'not_future' }),
    ]);
  });
});
