import { createSignalSchema } from '@coherence/contracts';
import { describe, expect, it } from 'vitest';
import { decodeSignalRecord } from './decodeSignalRecord';

const schema = createSignalSchema({ now: () => new Date('2026-11-24T12:00:00Z') });
const signal = { tenantId: 'acme', source: 'orders', signalId: 's1', ts: '2026-11-24T11:00:00Z', type: 'errors', value: 0.4 };
const record = (value: unknown, key: string | null = 'acme') => ({
  key: key === null ? null : Buffer.from(key),
  value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
});

/** A valid signal but for one byte of `source`, 0xff, which no UTF-8 text contains. */
const notUtf8 = Buffer.from(JSON.stringify({ ...signal, source: 'or#ders' }));
notUtf8[notUtf8.indexOf('#')] = 0xff;

describe('decodeSignalRecord', () => {
  it('accepts a valid signal keyed by its tenant, or unkeyed, with weight defaulted', () => {
    expect(decodeSignalRecord(schema, record(signal))).toEqual({ ok: true, signal: { ...signal, weight: 1 } });
    expect(decodeSignalRecord(schema, record(signal, null)).ok).toBe(true);
  });

  it.each([
    ['an empty value', record(null), 'EMPTY_VALUE', ''],
    ['a value that is not JSON', record('{"tenantId":'), 'MALFORMED_JSON', ''],
    ['a value that is not UTF-8 (it would be stored as U+FFFD)', { key: null, value: notUtf8 }, 'MALFORMED_JSON', ''],
    ['a value out of range', record({ ...signal, value: 1.2 }), 'INVALID_SIGNAL', 'value'],
    ['a ts too far ahead', record({ ...signal, ts: '2026-11-24T12:06:00Z' }), 'INVALID_SIGNAL', 'ts'],
    ['a key that is not the tenant', record(signal, 'globex'), 'INVALID_SIGNAL', 'tenantId'],
  ])('refuses %s with a reason naming the field', (_case, input, code, path) => {
    const decoded = decodeSignalRecord(schema, input);
    expect(decoded).toMatchObject({ ok: false, reason: { code, issues: [expect.objectContaining({ path })] } });
  });

  // The record of issue 12 that stalled its partition: JSON escapes decode to a NUL or a lone surrogate, which
  // Postgres refuses; decoding must send it to the DLQ with the rule instead of handing it to the store.
  it.each([
    ['a NUL in source', 'source', '"orders\\u0000"'],
    ['a NUL in type', 'type', '"\\u0000"'],
    ['a lone high surrogate in signalId', 'signalId', '"s\\ud800"'],
    ['a lone low surrogate in source', 'source', '"\\udc00orders"'],
  ])('dead-letters %s as INVALID_SIGNAL, rule storable_string', (_case, field, escaped) => {
    const json = JSON.stringify({ ...signal, [field]: 'PLACEHOLDER' }).replace('"PLACEHOLDER"', escaped);
    expect(json).toContain('\\u');
    const decoded = decodeSignalRecord(schema, record(json));
    expect(decoded).toEqual({
      ok: false,
      reason: { code: 'INVALID_SIGNAL', issues: [{ path: field, rule: 'storable_string', message: expect.any(String) }] },
    });
  });

  it('dead-letters a weight beyond the maximum (the overflowing 1e308) with rule max', () => {
    expect(decodeSignalRecord(schema, record({ ...signal, weight: 1e308 }))).toEqual({
      ok: false,
      reason: { code: 'INVALID_SIGNAL', issues: [{ path: 'weight', rule: 'max', message: expect.any(String) }] },
    });
  });

  it('keeps a well-formed non-ASCII value as sent, and refuses a lone surrogate sent as raw bytes', () => {
    const accented = { ...signal, source: 'caf\u00e9', type: 'cafe\u0301', signalId: '😀' };
    expect(decodeSignalRecord(schema, record(accented))).toEqual({ ok: true, signal: { ...accented, weight: 1 } });
    // A lone surrogate cannot travel as raw UTF-8: its bytes (ED A0 80) are not UTF-8, so the value is no JSON text.
    const [before, after] = JSON.stringify(signal).split('"orders"') as [string, string];
    const raw = Buffer.concat([Buffer.from(`${before}"`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(`orders"${after}`)]);
    const decoded = decodeSignalRecord(schema, { key: Buffer.from('acme'), value: raw });
    expect(decoded).toMatchObject({ ok: false, reason: { code: 'MALFORMED_JSON' } });
  });
});
