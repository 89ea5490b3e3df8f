import { describe, expect, it } from 'vitest';
import { createLocalGcra } from './createLocalGcra';

/** One unit per 100 ms (10/s), a clock the test moves. */
const EMISSION_MICROS = 100_000;

function gcraAt() {
  let now = 0;
  const gcra = createLocalGcra(() => now);
  return { gcra, advanceMs: (ms: number) => (now += ms * 1_000) };
}

describe('createLocalGcra', () => {
  it('allows the burst at once, then refuses with the wait until one unit refills', () => {
    const { gcra } = gcraAt();
    const results = Array.from({ length: 4 }, () => gcra.consume('a', EMISSION_MICROS, 3, 1));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results[3]).toEqual({ allowed: false, waitMicros: EMISSION_MICROS });
  });

  it('peeks without spending: the same answer consume would give', () => {
    const { gcra } = gcraAt();
    expect(gcra.peek('a', EMISSION_MICROS, 2, 1)).toEqual({ allowed: true, waitMicros: 0 });
    gcra.consume('a', EMISSION_MICROS, 2, 1);
    expect(gcra.peek('a', EMISSION_MICROS, 2, 1)).toEqual({ allowed: true, waitMicros: 0 });
    gcra.consume('a', EMISSION_MICROS, 2, 1);
    expect(gcra.peek('a', EMISSION_MICROS, 2, 1)).toEqual({ allowed: false, waitMicros: EMISSION_MICROS });
    expect(gcra.peek('a', EMISSION_MICROS, 2, 1)).toEqual(gcra.consume('a', EMISSION_MICROS, 2, 1));
  });

  it('refills at the rate, and a refusal spends nothing', () => {
    const { gcra, advanceMs } = gcraAt();
    expect(gcra.consume('a', EMISSION_MICROS, 1, 1).allowed).toBe(true);
    expect(gcra.consume('a', EMISSION_MICROS, 1, 1).allowed).toBe(false);
    advanceMs(100);
    expect(gcra.consume('a', EMISSION_MICROS, 1, 1).allowed).toBe(true);
  });

  it('charges a cost, never allows one above the burst, and keeps keys apart', () => {
    const { gcra } = gcraAt();
    expect(gcra.consume('a', EMISSION_MICROS, 100, 60).allowed).toBe(true);
    expect(gcra.consume('a', EMISSION_MICROS, 100, 60)).toEqual({ allowed: false, waitMicros: 20 * EMISSION_MICROS });
    expect(gcra.consume('b', EMISSION_MICROS, 100, 101).allowed).toBe(false);
    expect(gcra.consume('b', EMISSION_MICROS, 100, 100).allowed).toBe(true);
  });

  it('drops full buckets once it holds many keys, without losing a spent one', () => {
    const { gcra, advanceMs } = gcraAt();
    for (let i = 0; i <= 10_000; i += 1) gcra.consume(`idle-${i}`, EMISSION_MICROS, 1, 1);
    gcra.consume('busy', EMISSION_MICROS, 2, 2);
    advanceMs(100);
    // The sweep runs on this call: the idle keys are full again and go, `busy` still owes 100 ms.
    expect(gcra.consume('busy', EMISSION_MICROS, 1, 1)).toEqual({ allowed: false, waitMicros: 100_000 });
  });
});
