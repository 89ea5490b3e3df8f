import { describe, expect, it } from 'vitest';
import { acceptedSignalSchema, createSignalSchema, MAX_SIGNAL_WEIGHT, MIN_SIGNAL_WEIGHT, signalSchema, type SignalInput } from './signal';
import { validate, type ValidationIssue } from './validationIssue';

const NOW = new Date('2024-05-01T12:00:00.000Z');
const fixedClock = (): Date => NOW;

function signal(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: SignalInput = {
    tenantId: 'acme',
    source: 'billing-api',
    signalId: 'sig-1',
    ts: '2024-05-01T11:59:00Z',
    type: 'latency_slo',
    value: 0.9,
  };
  return { ...base, ...overrides };
}

function issuesOf(result: ReturnType<typeof validate>): ValidationIssue[] {
  if (result.ok) throw new Error('expected validation to fail');
  return result.issues;
}

describe('signalSchema', () => {
  it('accepts a minimal signal and defaults weight to 1', () => {
    const result = validate(signalSchema, signal());
    expect(result).toEqual({ ok: true, value: { ...signal(), weight: 1 } });
  });

  it('accepts provenance, an explicit weight, offsets and fractional seconds', () => {
    const provenance = { purpose: 'monitoring', retention: 'P90D', license: 'internal', residency: 'eu' };
    const input = signal({ weight: 2.5, provenance, ts: '2024-05-01T13:59:00.123+02:00' });
    const result = validate(signalSchema, input);
    expect(result).toEqual({ ok: true, value: input });
  });

  it('keeps ts exactly as sent', () => {
    const result = validate(signalSchema, signal({ ts: '2024-05-01T13:59:00+02:00' }));
    expect(result.ok && result.value.ts).toBe('2024-05-01T13:59:00+02:00');
  });

  it.each([0, 1, 0.5])('accepts value %s (bounds inclusive)', (value) => {
    expect(validate(signalSchema, signal({ value })).ok).toBe(true);
  });

  it('rejects value 1.0001 with max at value', () => {
    expect(issuesOf(validate(signalSchema, signal({ value: 1.0001 })))).toEqual([expect.objectContaining({ path: 'value', rule: 'max' })]);
  });

  it('rejects a negative value with min', () => {
    expect(issuesOf(validate(signalSchema, signal({ value: -0.01 })))).toEqual([expect.objectContaining({ path: 'value', rule: 'min' })]);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, '0.5', null])('rejects non-finite or non-number value %s as type', (value) => {
    expect(issuesOf(validate(signalSchema, signal({ value })))).toEqual([expect.objectContaining({ path: 'value', rule: 'type' })]);
  });

  it.each([0, -1, -1e308])('rejects weight %s as not positive, once', (weight) => {
    expect(issuesOf(validate(signalSchema, signal({ weight })))).toEqual([expect.objectContaining({ path: 'weight', rule: 'positive' })]);
  });

  it('bounds weight to [1e-6, 1e6] so that no window sum can overflow or lose the value', () => {
    for (const weight of [MIN_SIGNAL_WEIGHT, 0.5, 1, MAX_SIGNAL_WEIGHT]) expect(validate(signalSchema, signal({ weight })).ok).toBe(true);
    const ruleOf = (weight: unknown) => issuesOf(validate(signalSchema, signal({ weight }))).map((i) => `${i.path}:${i.rule}`);
    expect(ruleOf(MAX_SIGNAL_WEIGHT * (1 + Number.EPSILON))).toEqual(['weight:max']);
    expect(ruleOf(1e308)).toEqual(['weight:max']);
    expect(ruleOf(Number.MAX_VALUE)).toEqual(['weight:max']);
    expect(ruleOf(MIN_SIGNAL_WEIGHT / 2)).toEqual(['weight:min']);
    expect(ruleOf(Number.MIN_VALUE)).toEqual(['weight:min']);
    expect(ruleOf(Number.POSITIVE_INFINITY)).toEqual(['weight:type']);
    expect(ruleOf(Number.NaN)).toEqual(['weight:type']);
  });

  it.each([
    ['a NUL', 'billing\u0000api'],
    ['a lone high surrogate', 'billing\ud800'],
    ['a lone low surrogate', '\udc00api'],
  ])('refuses %s in source, type, signalId and provenance as storable_string', (_case, text) => {
    const input = signal({
      source: text,
      type: text,
      signalId: text,
      provenance: { purpose: text, retention: 'P90D', license: 'l', residency: 'eu' },
    });
    expect(issuesOf(validate(signalSchema, input)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'source:storable_string',
      'signalId:storable_string',
      'type:storable_string',
      'provenance.purpose:storable_string',
    ]);
  });

  it('refuses a NUL in tenantId once, as storable_string rather than also format', () => {
    expect(issuesOf(validate(signalSchema, signal({ tenantId: 'acme\u0000' })))).toEqual([
      expect.objectContaining({ path: 'tenantId', rule: 'storable_string' }),
    ]);
  });

  it('keeps well-formed non-ASCII strings as sent, not normalised', () => {
    const input = signal({ source: 'caf\u00e9', type: 'cafe\u0301', signalId: '😀' });
    expect(validate(signalSchema, input)).toEqual({ ok: true, value: { ...input, weight: 1 } });
  });

  it('accepts value 0 and 1 exactly', () => {
    for (const value of [0, 1, Number.MIN_VALUE]) expect(validate(signalSchema, signal({ value })).ok).toBe(true);
  });

  it.each([
    '2024-05-01',
    '2024-05-01T11:59:00',
    '2024-05-01 11:59:00Z',
    '2024-05-01T11:59:00+0200',
    '2024-02-30T00:00:00Z',
    'yesterday',
    '',
  ])('rejects ts %j as format', (ts) => {
    expect(issuesOf(validate(signalSchema, signal({ ts })))).toEqual([expect.objectContaining({ path: 'ts', rule: 'format' })]);
  });

  it('rejects unknown fields with one unknown_field issue each', () => {
    expect(issuesOf(validate(signalSchema, signal({ colour: 'red', size: 3 })))).toEqual([
      { path: 'colour', rule: 'unknown_field', message: 'Unknown field "colour"' },
      { path: 'size', rule: 'unknown_field', message: 'Unknown field "size"' },
    ]);
  });

  it('rejects unknown and missing provenance fields', () => {
    const provenance = { purpose: 'monitoring', retention: 'P90D', license: 'internal', region: 'eu' };
    expect(issuesOf(validate(signalSchema, signal({ provenance })))).toEqual([
      expect.objectContaining({ path: 'provenance.residency', rule: 'required' }),
      expect.objectContaining({ path: 'provenance.region', rule: 'unknown_field' }),
    ]);
  });

  it('reports every missing required field', () => {
    const issues = issuesOf(validate(signalSchema, {}));
    expect(issues.map((i) => `${i.path}:${i.rule}`)).toEqual([
      'tenantId:required',
      'source:required',
      'signalId:required',
      'ts:required',
      'type:required',
      'value:required',
    ]);
  });

  it('validates tenantId length and characters', () => {
    expect(validate(signalSchema, signal({ tenantId: 'a.B_c:d-9' })).ok).toBe(true);
    expect(validate(signalSchema, signal({ tenantId: 'x'.repeat(128) })).ok).toBe(true);
    expect(issuesOf(validate(signalSchema, signal({ tenantId: 'x'.repeat(129) })))).toEqual([
      expect.objectContaining({ path: 'tenantId', rule: 'max' }),
    ]);
    expect(issuesOf(validate(signalSchema, signal({ tenantId: 'acme corp' })))).toEqual([
      expect.objectContaining({ path: 'tenantId', rule: 'format' }),
    ]);
    // Emptiness is one problem, reported once.
    expect(issuesOf(validate(signalSchema, signal({ tenantId: '' })))).toEqual([
      expect.objectContaining({ path: 'tenantId', rule: 'min' }),
    ]);
  });

  it('bounds source, signalId and type', () => {
    expect(validate(signalSchema, signal({ signalId: 's'.repeat(256) })).ok).toBe(true);
    const issues = issuesOf(validate(signalSchema, signal({ source: 's'.repeat(129), signalId: 's'.repeat(257), type: '' })));
    expect(issues.map((i) => `${i.path}:${i.rule}`)).toEqual(['source:max', 'signalId:max', 'type:min']);
  });

  it('does not check the clock', () => {
    expect(validate(signalSchema, signal({ ts: '2999-01-01T00:00:00Z' })).ok).toBe(true);
  });
});

describe('createSignalSchema', () => {
  const schema = createSignalSchema({ now: fixedClock });

  it('rejects a ts 6 minutes in the future with not_future', () => {
    expect(issuesOf(validate(schema, signal({ ts: '2024-05-01T12:06:00Z' })))).toEqual([
      expect.objectContaining({ path: 'ts', rule: 'not_future' }),
    ]);
  });

  it('compares instants, not strings: +02:00 six minutes ahead is also rejected', () => {
    expect(issuesOf(validate(schema, signal({ ts: '2024-05-01T14:06:00+02:00' })))).toEqual([
      expect.objectContaining({ path: 'ts', rule: 'not_future' }),
    ]);
  });

  it('accepts exactly the allowed skew and anything in the past', () => {
    expect(validate(schema, signal({ ts: '2024-05-01T12:05:00Z' })).ok).toBe(true);
    expect(validate(schema, signal({ ts: '2024-05-01T12:05:00.001Z' })).ok).toBe(false);
    expect(validate(schema, signal({ ts: '2001-01-01T00:00:00Z' })).ok).toBe(true);
  });

  it('honours a custom skew', () => {
    const strict = createSignalSchema({ now: fixedClock, maxFutureSkewMs: 0 });
    expect(validate(strict, signal({ ts: '2024-05-01T12:00:00Z' })).ok).toBe(true);
    expect(validate(strict, signal({ ts: '2024-05-01T12:00:01Z' })).ok).toBe(false);
  });

  it('reads the clock on every parse', () => {
    let now = NOW;
    const moving = createSignalSchema({ now: () => now });
    const input = signal({ ts: '2024-05-01T12:10:00Z' });
    expect(validate(moving, input).ok).toBe(false);
    now = new Date('2024-05-01T12:06:00Z');
    expect(validate(moving, input).ok).toBe(true);
  });

  it('reports a malformed ts once, as format, not also as not_future', () => {
    // Date.parse would read this as 2024-03-01, far in the future of the clock.
    const early = createSignalSchema({ now: () => new Date('2020-01-01T00:00:00Z') });
    expect(issuesOf(validate(early, signal({ ts: '2024-02-30T00:00:00Z' })))).toEqual([
      expect.objectContaining({ path: 'ts', rule: 'format' }),
    ]);
  });

  it('still rejects unknown fields and defaults weight', () => {
    expect(validate(schema, signal())).toEqual({ ok: true, value: { ...signal(), weight: 1 } });
    expect(issuesOf(validate(schema, signal({ extra: true })))).toEqual([
      expect.objectContaining({ path: 'extra', rule: 'unknown_field' }),
    ]);
  });

  it('defaults to the real clock', () => {
    const real = createSignalSchema();
    const soon = new Date(Date.now() + 60_000).toISOString();
    const later = new Date(Date.now() + 10 * 60_000).toISOString();
    expect(validate(real, signal({ ts: soon })).ok).toBe(true);
    expect(validate(real, signal({ ts: later })).ok).toBe(false);
  });
});

describe('acceptedSignalSchema', () => {
  const provenance = { purpose: 'monitoring', retention: 'P90D', license: 'internal', residency: 'eu' };

  it('requires provenance, weight and receivedAt', () => {
    const issues = issuesOf(validate(acceptedSignalSchema, signal()));
    expect(issues.map((i) => `${i.path}:${i.rule}`)).toEqual(['weight:required', 'provenance:required', 'receivedAt:required']);
  });

  it('applies the same weight and string rules as signalSchema', () => {
    const stored = signal({
      weight: 1e308,
      source: '\u0000',
      provenance: { ...provenance, license: '\ud800' },
      receivedAt: '2024-05-01T12:00:00Z',
    });
    expect(issuesOf(validate(acceptedSignalSchema, stored)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'source:storable_string',
      'weight:max',
      'provenance.license:storable_string',
    ]);
  });

  it('accepts a complete stored signal and stays strict', () => {
    const stored = signal({ weight: 1, provenance, receivedAt: '2024-05-01T12:00:00.000Z' });
    expect(validate(acceptedSignalSchema, stored)).toEqual({ ok: true, value: stored });
    expect(issuesOf(validate(acceptedSignalSchema, { ...stored, id: 7 }))).toEqual([
      expect.objectContaining({ path: 'id', rule: 'unknown_field' }),
    ]);
  });
});
