import type { PgPool } from '@coherence/platform';
import { hasWorkWaitingLongerThan } from './outboxQueue';

export interface ProgressWatchOptions {
  pool: PgPool;
  /** No progress for this long with work waiting as long is a stall. */
  stallSeconds: number;
  now?: () => number;
}

/**
 * Whether the relay is stalled: it has projected or quarantined nothing for
 * `stallSeconds`, and some outbox event has been due for at least as long.
 * Both halves matter: an idle relay with an empty outbox makes no progress
 * and is fine; a busy outbox drained by a working relay has waiting events
 * and is fine. Nothing else is assumed about why (a dependency down, a hung
 * query, a lock held elsewhere), so a relay that cannot move says so
 * whatever the reason. Read by `/readyz` and the `relay_stalled` gauge.
 */
export function createProgressWatch(options: ProgressWatchOptions) {
  const now = options.now ?? Date.now;
  let lastProgressAt = now();
  return {
    /** The relay projected or quarantined at least one event. */
    noteProgress(): void {
      lastProgressAt = now();
    },
    async isStalled(): Promise<boolean> {
      if (now() - lastProgressAt < options.stallSeconds * 1_000) return false;
      try {
        return await hasWorkWaitingLongerThan(options.pool, options.stallSeconds);
      } catch {
        // Without Postgres the relay cannot move either, and it has not for stallSeconds.
        return true;
      }
    },
    secondsSinceProgress(): number {
      return (now() - lastProgressAt) / 1_000;
    },
  };
}

export type ProgressWatch = ReturnType<typeof createProgressWatch>;
