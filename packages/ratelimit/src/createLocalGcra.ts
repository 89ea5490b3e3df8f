/** One bucket of a spend: its key, its limits for this call (µs per unit, units at once), and the units to spend. */
export interface GcraBucket {
  key: string;
  emissionMicros: number;
  burst: number;
  cost: number;
}

export interface LocalGcra {
  /**
   * Spends each bucket's cost if every bucket has room for it, else spends
   * nothing. Returns, per bucket, the microseconds until it would have room
   * (0: it has room now), so all zeros means the spend was made.
   */
  consume(buckets: readonly GcraBucket[]): number[];
  /** What `consume` would answer now, spending nothing. */
  peek(buckets: readonly GcraBucket[]): number[];
}

/** Past this many keys, keys whose bucket is full again are dropped (they hold no state worth keeping). */
const SWEEP_ABOVE_KEYS = 10_000;

/**
 * The same GCRA as the Redis script, in this process's memory: the stand-in
 * while Redis is slow or down. Same arithmetic on the same parameters, and
 * the same all-or-nothing spend over several buckets, so a process enforces
 * the same shares it would through Redis; only the sum over processes is
 * lost (each grants the share on its own). Time is the monotonic clock, so a
 * wall-clock step cannot refill buckets.
 */
export function createLocalGcra(nowMicros: () => number = () => performance.now() * 1_000): LocalGcra {
  const tats = new Map<string, number>();
  /** Per bucket at `now`: its theoretical arrival time once spent, and the wait until it has room (0: now). */
  function decide(buckets: readonly GcraBucket[], now: number) {
    const newTats = buckets.map(({ key, emissionMicros, cost }) => Math.max(tats.get(key) ?? now, now) + emissionMicros * cost);
    // Under a microsecond is rounding, not a wait: `now` and the emission interval are fractional microseconds here
    // (the Redis script's are whole), and (now + e) - e can come out a hair above now, refusing a bucket that has room.
    const waits = buckets.map(({ emissionMicros, burst }, i) => {
      const wait = newTats[i]! - emissionMicros * burst - now;
      return wait < 1 ? 0 : Math.ceil(wait);
    });
    return { newTats, waits };
  }
  return {
    consume(buckets) {
      const now = nowMicros();
      if (tats.size > SWEEP_ABOVE_KEYS) for (const [staleKey, tat] of tats) if (tat <= now) tats.delete(staleKey);
      const { newTats, waits } = decide(buckets, now);
      if (waits.every((wait) => wait === 0)) buckets.forEach(({ key }, i) => tats.set(key, newTats[i]!));
      return waits;
    },
    peek: (buckets) => decide(buckets, nowMicros()).waits,
  };
}
