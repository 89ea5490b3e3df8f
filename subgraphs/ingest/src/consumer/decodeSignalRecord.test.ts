import { createSignalSchema } from '@coherence/contracts';
import { describe, expect, it } from 'vitest';
import { decodeSignalRecord } from './decodeSignalRecord';

const schema = createSignalSchema({ now: () => new Date('2026-11-24T12:00:00Z') });
const signal = { tenantId: 'acme', source: 'orders', signalId: 's1', ts: '2026-11-24T11:00:00Z', type: 'errors', value: 0.4 };
const record = (value: unknown, key: string | null = 'acme') => ({
  key: key === null ? null : Buffer.from(key),
  value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
});

describe('decodeSignalRecord', () => {
  it('accepts a valid signal keyed by its tenant, or unkeyed, with weight defaulted', () => {
    expect(decodeSignalRecord(schema, record(signal))).toEqual({ ok: true, signal: { ...signal, weight: 1 } });
    expect(decodeSignalRecord(schema, record(signal, null)).ok).toBe(true);
  });

  it.each([
    ['an empty value', record(null), 'EMPTY_VALUE', ''],
    ['a value that is not JSON', record('{"tenantId":'), 'MALFORMED_JSON', ''],
    ['a value out of range', record({ ...signal, value: 1.2 }), 'INVALID_SIGNAL', 'value'],
    ['a ts too far ahead', record({ ...signal, ts: '2026-11-24T12:06:00Z' }), 'INVALID_SIGNAL', 'ts'],
    ['a key that is not the tenant', record(signal, 'globex'), 'INVALID_SIGNAL', 'tenantId'],
  ])('refuses %s with a reason naming the field', (_case, input, code, path) => {
    const decoded = decodeSignalRecord(schema, input);
    expect(decoded).toMatchObject({ ok: false, reason: { code, issues: [expect.objectContaining({ path })] } });
  });
});
