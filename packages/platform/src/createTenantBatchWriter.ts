import type { Logger } from './createLogger';
import { isRefusedDataError } from './errorCauses';

export interface TenantBatchWriterOptions<Row> {
  logger: Logger;
  /** What the rows are, for log lines: "policy decisions". */
  what: string;
  /** The tenant a row is filed under (for the log line of a row the database refused). */
  tenantOf: (row: Row) => string;
  /**
   * Inserts rows of any tenants in one statement, which sets each row's
   * tenant for row-level security itself: a SQL function such as
   * `policy_decisions_insert` (gateway migration 008). One round trip per
   * batch, however many tenants it holds.
   */
  insert: (rows: readonly Row[]) => Promise<unknown>;
  /** Write at least this often while rows are waiting. */
  flushMs: number;
  /** Write at once when this many rows are waiting. */
  batchSize: number;
  /**
   * At most this many unwritten rows (the database is down, or a flood):
   * beyond it new rows are dropped, and after a failed write the oldest, all
   * counted.
   */
  maxPending: number;
  /**
   * Rows with the same key that arrive between two writes become one row
   * (`merge` folds the later into the earlier): a flood of identical events
   * costs one row per write, and cannot fill the queue. A row whose key is
   * undefined is queued as it is.
   */
  aggregate?: { key: (row: Row) => string | undefined; merge: (into: Row, row: Row) => Row };
  /** Called with the number of rows dropped: `overflow` beyond `maxPending`, `refused` when Postgres refused a row's values. */
  onDropped?: (count: number, reason: 'overflow' | 'refused') => void;
}

/**
 * Writes audit rows (policy decisions, security events) off the request
 * path: `record` only appends to a bounded queue; a timer (or a full batch)
 * writes the queue in one statement, whatever tenants it holds (`insert`). A request is
 * answered without waiting for its row, and a flood of refusals costs one
 * write per batch, not one per request.
 *
 * A failed write keeps the batch for the next attempt (while the queue stays
 * under `maxPending`); `close()` writes everything still queued. A batch whose
 * values Postgres refuses is written again one row at a time and the rows
 * refused alone are set aside (logged, counted): retried, they would fail
 * forever ahead of every later row.
 */
export function createTenantBatchWriter<Row>(options: TenantBatchWriterOptions<Row>) {
  let pending: Row[] = [];
  /** Position in `pending` of each aggregate key seen since the last write. */
  let positions = new Map<string, number>();
  let flushing: Promise<boolean> | undefined;
  const timer = setInterval(() => void flushOnce(), options.flushMs);
  timer.unref();

  /** Writes a batch; returns the rows still to write when the database is unavailable. */
  async function writeIsolating(batch: Row[]): Promise<Row[]> {
    try {
      await options.insert(batch);
      return [];
    } catch (error) {
      if (!isRefusedDataError(error)) return keepFor(error, batch);
    }
    for (const [index, row] of batch.entries()) {
      try {
        await options.insert([row]);
      } catch (error) {
        if (!isRefusedDataError(error)) return keepFor(error, batch.slice(index));
        options.logger.error(
          { err: error, tenant_id: options.tenantOf(row) },
          `the database refused one of the ${options.what}; set aside`,
        );
        options.onDropped?.(1, 'refused');
      }
    }
    return [];
  }

  function keepFor(error: unknown, unwritten: Row[]): Row[] {
    options.logger.error({ err: error, rows: unwritten.length }, `writing ${options.what} failed; will retry`);
    return unwritten;
  }

  function dropOverflow(): void {
    const excess = pending.length - options.maxPending;
    if (excess <= 0) return;
    pending = pending.slice(excess);
    positions = new Map();
    options.onDropped?.(excess, 'overflow');
  }

  /** Writes what is queued now as one batch; false when the database was unavailable (what is unwritten is queued again). */
  async function flushOnce(): Promise<boolean> {
    if (flushing) await flushing;
    if (pending.length === 0) return true;
    const batch = pending;
    pending = [];
    positions = new Map();
    flushing = writeIsolating(batch).then((unwritten) => {
      if (unwritten.length === 0) return true;
      pending = [...unwritten, ...pending];
      positions = new Map();
      dropOverflow();
      return false;
    });
    try {
      return await flushing;
    } finally {
      flushing = undefined;
    }
  }

  /** Writes until nothing is queued; false if the database was unavailable. */
  async function flushAll(): Promise<boolean> {
    while (pending.length > 0 || flushing) {
      if (!(await flushOnce())) return false;
    }
    return true;
  }

  return {
    /** Queues one row (or folds it into an earlier one with its aggregate key); never waits, never throws. */
    record(row: Row): void {
      const key = options.aggregate?.key(row);
      const position = key === undefined ? undefined : positions.get(key);
      if (options.aggregate && position !== undefined) {
        pending[position] = options.aggregate.merge(pending[position] as Row, row);
        return;
      }
      if (pending.length >= options.maxPending) {
        options.onDropped?.(1, 'overflow');
        return;
      }
      if (key !== undefined) positions.set(key, pending.length);
      pending.push(row);
      if (pending.length >= options.batchSize) void flushOnce();
    },

    /** Writes everything queued now; for tests, benchmarks and shutdown. */
    flush: flushAll,

    /** Stops the timer and writes everything still queued, with one retry; what still fails is logged as lost. */
    async close(): Promise<void> {
      clearInterval(timer);
      if ((await flushAll()) || (await flushAll())) return;
      options.logger.error({ lost: pending.length }, `${options.what} could not be written at shutdown`);
    },
  };
}

export type TenantBatchWriter<Row> = ReturnType<typeof createTenantBatchWriter<Row>>;
