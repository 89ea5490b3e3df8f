import DataLoader from 'dataloader';
import type { PgPool } from '@coherence/platform';
import type { Histogram, Counter } from 'prom-client';
import { storeSignalGroup, storeSignals, type StoreResult, type SignalPush } from './storeSignals';

export interface GroupCommitOptions {
  pool: PgPool;
  /** How long the first push of a group waits for others; 0 stores every push alone, at once. */
  windowMs: number;
  /** A group is written as soon as it has this many pushes. */
  maxPushes: number;
  metrics: {
    /** Pushes per transaction. */
    groupSize: Histogram;
    /** Groups Postgres refused, whose pushes were then stored one by one. */
    groupsSplit: Counter;
  };
}

/** Stores one push, possibly in one transaction with other pushes; resolves only once its transaction has committed. */
export type StorePush = (push: SignalPush) => Promise<StoreResult>;

/**
 * Group commit for the HTTP hot path (docs/adr/0029-ingest-group-commit.md):
 * pushes that arrive within `windowMs` of each other are written in one
 * transaction, one round trip and one WAL flush instead of one each, and each
 * is answered when that transaction has committed, so a 202 still means its
 * rows are durable. A group Postgres refuses is split: each push is stored
 * alone, so one push's failure is that push's answer only. DataLoader does the
 * coalescing (its batch function answers each caller on its own); nothing is
 * cached, since every push is a new write.
 */
export function createGroupCommit(options: GroupCommitOptions): StorePush {
  const storeAlone = (push: SignalPush) => storeSignals(options.pool, push.signals, push.context);
  if (options.windowMs === 0) return storeAlone;
  const loader = new DataLoader<SignalPush, StoreResult>(
    async (pushes) => {
      options.metrics.groupSize.observe(pushes.length);
      if (pushes.length === 1) return [await storeAlone(pushes[0]!)];
      try {
        return await storeSignalGroup(options.pool, pushes);
      } catch {
        options.metrics.groupsSplit.inc();
        return Promise.all(pushes.map((push) => storeAlone(push).catch((error: unknown) => toError(error))));
      }
    },
    { cache: false, maxBatchSize: options.maxPushes, batchScheduleFn: (write) => setTimeout(write, options.windowMs) },
  );
  return (push) => loader.load(push);
}

const toError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
