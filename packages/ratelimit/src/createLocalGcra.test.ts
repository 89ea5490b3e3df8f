import { describe, expect, it } from 'vitest';
import { createLocalGcra } from './createLocalGcra';

/** One unit per 100 ms (10/s), a clock the test moves. */
const EMISSION_MICROS = 100_000;

function gcraAt() {
  let now = 0;
  const gcra = createLocalGcra(() => now);
  /** One bucket on its own: its wait in µs (0: spent). */
  const consume = (key: string, burst: number, cost: number) => gcra.consume([{ key, emissionMicros: EMISSION_MICROS, burst, cost }])[0];
  return { gcra, consume, advanceMs: (ms: number) => (now += ms * 1_000) };
}

describe('createLocalGcra', () => {
  it('allows the burst at once, then refuses with the wait until one unit refills', () => {
    const { consume } = gcraAt();
    expect(Array.from({ length: 4 }, () => consume('a', 3, 1))).toEqual([0, 0, 0, EMISSION_MICROS]);
  });

  it('peeks without spending: the same answer consume would give', () => {
    const { gcra, consume } = gcraAt();
    const bucket = [{ key: 'a', emissionMicros: EMISSION_MICROS, burst: 2, cost: 1 }];
    expect(gcra.peek(bucket)).toEqual([0]);
    expect(gcra.peek(bucket)).toEqual([0]);
    consume('a', 2, 1);
    expect(gcra.peek(bucket)).toEqual([0]);
    consume('a', 2, 1);
    expect(gcra.peek(bucket)).toEqual([EMISSION_MICROS]);
    expect(gcra.peek(bucket)).toEqual(gcra.consume(bucket));
  });

  it('refills at the rate, and a refusal spends nothing', () => {
    const { consume, advanceMs } = gcraAt();
    expect(consume('a', 1, 1)).toBe(0);
    expect(consume('a', 1, 1)).toBe(EMISSION_MICROS);
    advanceMs(100);
    expect(consume('a', 1, 1)).toBe(0);
  });

  it('charges a cost, never allows one above the burst, and keeps keys apart', () => {
    const { consume } = gcraAt();
    expect(consume('a', 100, 60)).toBe(0);
    expect(consume('a', 100, 60)).toBe(20 * EMISSION_MICROS);
    expect(consume('b', 100, 101)).toBeGreaterThan(0);
    expect(consume('b', 100, 100)).toBe(0);
  });

  it('spends on several buckets only when every one has room, and says how long each must wait', () => {
    const { gcra, consume } = gcraAt();
    const both = (cost: number) =>
      gcra.consume([
        { key: 'caller', emissionMicros: EMISSION_MICROS, burst: 2, cost },
        { key: 'tenant', emissionMicros: EMISSION_MICROS, burst: 5, cost },
      ]);
    expect(both(1)).toEqual([0, 0]);
    expect(both(1)).toEqual([0, 0]);
    // The caller's bucket is empty: refused, and the tenant's 3 units left are not touched.
    expect(both(1)).toEqual([EMISSION_MICROS, 0]);
    expect(consume('tenant', 5, 3)).toBe(0);
    expect(both(1)).toEqual([EMISSION_MICROS, EMISSION_MICROS]);
  });

  it('drops full buckets once it holds many keys, without losing a spent one', () => {
    const { consume, advanceMs } = gcraAt();
    for (let i = 0; i <= 10_000; i += 1) consume(`idle-${i}`, 1, 1);
    consume('busy', 2, 2);
    advanceMs(100);
    // The sweep runs on this call: the idle keys are full again and go, `busy` still owes 100 ms.
    expect(consume('busy', 1, 1)).toBe(100_000);
  });

  it('allows a spend that fills the bucket exactly, however the fractional clock rounds', () => {
    // performance.now() gives fractional microseconds: (now + e) - e need not come back to now exactly.
    for (const start of [0.1, 1e6 + 0.3, 123_456_789.123, 8.64e10 + 0.7]) {
      const gcra = createLocalGcra(() => start);
      expect(gcra.consume([{ key: 'a', emissionMicros: 1e6 / 3, burst: 1, cost: 1 }])).toEqual([0]);
      expect(gcra.consume([{ key: 'b', emissionMicros: 1e6, burst: 3, cost: 3 }])).toEqual([0]);
    }
  });
});
