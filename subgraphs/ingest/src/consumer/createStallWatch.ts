export interface StallWatchOptions {
  /** No committed record for this long while records are pending is a stall. */
  stallSeconds: number;
  now?: () => number;
}

export interface ConsumerProgress {
  stalled: boolean;
  /** Since the last commit, or since records became pending after an idle spell. */
  secondsWithoutProgress: number;
  /** Fetched-but-uncommitted records plus the lag behind them, over the partitions seen. */
  pendingRecords: number;
}

/**
 * Whether the consumer is stuck: records are pending (lag > 0 on some
 * partition, as of its last fetch or commit) and none has been committed for
 * `stallSeconds`. Both halves matter: an idle consumer commits nothing and
 * is fine; a busy one has lag and is fine while it commits. The clock starts
 * when work appears, so a first fetch after an idle hour is not a stall. No
 * reason is assumed (database down, a hung statement, an error retried
 * forever): whatever keeps the consumer from committing is reported.
 */
export function createStallWatch(options: StallWatchOptions) {
  const now = options.now ?? Date.now;
  const lagByPartition = new Map<string, number>();
  let lastProgressAt = now();
  const pendingRecords = () => [...lagByPartition.values()].reduce((sum, lag) => sum + lag, 0);

  return {
    /** A partition's records not yet committed, as of a fetch or a commit. */
    noteLag(topic: string, partition: number, lag: number): void {
      if (lag > 0 && pendingRecords() === 0) lastProgressAt = now();
      lagByPartition.set(`${topic}/${partition}`, lag);
    },
    /** Offsets were committed; also called when a pause for back-pressure ends, which is no stall. */
    noteProgress(): void {
      lastProgressAt = now();
    },
    /** Partitions were reassigned: lags of partitions this member no longer owns must not count. */
    forgetPartitions(): void {
      lagByPartition.clear();
      lastProgressAt = now();
    },
    progress(): ConsumerProgress {
      const secondsWithoutProgress = (now() - lastProgressAt) / 1_000;
      const pending = pendingRecords();
      return { stalled: pending > 0 && secondsWithoutProgress >= options.stallSeconds, secondsWithoutProgress, pendingRecords: pending };
    },
  };
}

export type StallWatch = ReturnType<typeof createStallWatch>;
