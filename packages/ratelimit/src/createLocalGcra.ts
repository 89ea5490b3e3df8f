/** A GCRA decision: allowed, or how many microseconds until the same cost would be. */
export interface GcraResult {
  allowed: boolean;
  waitMicros: number;
}

export interface LocalGcra {
  consume(key: string, emissionMicros: number, burst: number, cost: number): GcraResult;
}

/** Past this many keys, keys whose bucket is full again are dropped (they hold no state worth keeping). */
const SWEEP_ABOVE_KEYS = 10_000;

/**
 * The same GCRA as the Redis script, in this process's memory: the stand-in
 * while Redis is slow or down. Same arithmetic on the same parameters, so a
 * process enforces the same share it would through Redis; only the sum over
 * processes is lost (each grants the share on its own). Time is the monotonic
 * clock, so a wall-clock step cannot refill buckets.
 */
export function createLocalGcra(nowMicros: () => number = () => performance.now() * 1_000): LocalGcra {
  const tats = new Map<string, number>();
  return {
    consume(key, emissionMicros, burst, cost) {
      const now = nowMicros();
      if (tats.size > SWEEP_ABOVE_KEYS) for (const [staleKey, tat] of tats) if (tat <= now) tats.delete(staleKey);
      const tat = Math.max(tats.get(key) ?? now, now);
      const newTat = tat + emissionMicros * cost;
      const allowAt = newTat - emissionMicros * burst;
      if (allowAt > now) return { allowed: false, waitMicros: Math.ceil(allowAt - now) };
      tats.set(key, newTat);
      return { allowed: true, waitMicros: 0 };
    },
  };
}
