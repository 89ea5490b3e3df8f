import { describe, expect, it } from 'vitest';
import { differingFields, MAX_DIFFERING_FIELDS, requestSha256 } from './requestFingerprint';

describe('requestSha256', () => {
  it('ignores key order and whitespace, not values or array order', () => {
    expect(requestSha256(JSON.parse('{ "a": 1, "b": 2 }'))).toBe(requestSha256({ b: 2, a: 1 }));
    expect(requestSha256({ a: [1, 2] })).not.toBe(requestSha256({ a: [2, 1] }));
    expect(requestSha256({ a: 1 })).not.toBe(requestSha256({ a: '1' }));
  });
});

describe('differingFields', () => {
  const signal = { tenantId: 't', source: 's', signalId: 'x', ts: '2026-01-01T00:00:00Z', type: 'k', value: 0.5 };

  it('names the deepest differing paths in validation-issue notation', () => {
    const before = { signals: [signal, { ...signal, signalId: 'y' }] };
    const after = {
      signals: [
        { ...signal, value: 0.6 },
        { ...signal, signalId: 'z', weight: 2 },
      ],
    };
    expect(differingFields(before, after)).toEqual(['signals[0].value', 'signals[1].signalId', 'signals[1].weight']);
  });

  it('reports added and removed items at their own index', () => {
    expect(differingFields({ signals: [signal] }, { signals: [signal, signal] })).toEqual(['signals[1]']);
    expect(differingFields({ signals: [signal, signal] }, { signals: [signal] })).toEqual(['signals[1]']);
  });

  it('is empty for equal bodies whatever their key order, and the root is ""', () => {
    expect(differingFields({ a: 1, b: [1] }, { b: [1], a: 1 })).toEqual([]);
    expect(differingFields(1, 2)).toEqual(['']);
  });

  it('stops at MAX_DIFFERING_FIELDS', () => {
    const many = (value: number) => ({ signals: Array.from({ length: 500 }, () => ({ ...signal, value })) });
    expect(differingFields(many(0.1), many(0.2))).toHaveLength(MAX_DIFFERING_FIELDS);
  });
});
