/** A GCRA decision: allowed, or how many microseconds until the same cost would be. */
export interface GcraResult {
  allowed: boolean;
  waitMicros: number;
}

export interface LocalGcra {
  consume(key: string, emissionMicros: number, burst: number, cost: number): GcraResult;
  /** What `consume` would answer now, spending nothing. */
  peek(key: string, emissionMicros: number, burst: number, cost: number): GcraResult;
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
  /** The decision at `now`, and the key's new theoretical arrival time if it is spent. */
  function decide(key: string, now: number, emissionMicros: number, burst: number, cost: number) {
    const newTat = Math.max(tats.get(key) ?? now, now) + emissionMicros * cost;
    const allowAt = newTat - emissionMicros * burst;
    const result: GcraResult = allowAt > now ? { allowed: false, waitMicros: Math.ceil(allowAt - now) } : { allowed: true, waitMicros: 0 };
    return { result, newTat };
  }
  return {
    consume(key, emissionMicros, burst, cost) {
      const now = nowMicros();
      if (tats.size > SWEEP_ABOVE_KEYS) for (const [staleKey, tat] of tats) if (tat <= now) tats.delete(staleKey);
      const { result, newTat } = decide(key, now, emissionMicros, burst, cost);
      if (result.allowed) tats.set(key, newTat);
      return result;
    },
    peek: (key, emissionMicros, burst, cost) => decide(key, nowMicros(), emissionMicros, burst, cost).result,
  };
}
