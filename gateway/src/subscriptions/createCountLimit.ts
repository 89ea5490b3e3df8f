/**
 * How many of something each key (a client address, a tenant) holds right
 * now, at most `max`. In process: a gateway instance bounds what it holds
 * itself; the limiter, in Redis, is what spans instances.
 */
export function createCountLimit(max: number) {
  const counts = new Map<string, number>();
  return {
    max,
    /** Counts one more for `key`, or returns false (and counts nothing) when it already holds `max`. */
    tryAcquire(key: string): boolean {
      const count = counts.get(key) ?? 0;
      if (count >= max) return false;
      counts.set(key, count + 1);
      return true;
    },
    release(key: string): void {
      const count = (counts.get(key) ?? 0) - 1;
      // Keys are addresses and tenants: dropping the empty ones keeps the map as small as what is open.
      if (count > 0) counts.set(key, count);
      else counts.delete(key);
    },
  };
}

export type CountLimit = ReturnType<typeof createCountLimit>;
