import { policyDecisionSchema, type PolicyDecision } from '@coherence/contracts';
import { inTransaction, isRefusedDataError, setTenant, type Logger, type PgPool } from '@coherence/platform';

export interface DecisionRecorderOptions {
  pool: PgPool;
  logger: Logger;
  /** The gateway's region, stored with every decision. */
  region: string;
  /** Flush at least this often while decisions are waiting. */
  flushMs: number;
  /** Flush at once when this many are waiting. */
  batchSize: number;
  /** Beyond this many unwritten decisions (the database is down), the oldest are dropped and counted. Default 100_000. */
  maxPending?: number;
  /**
   * Called with the number of decisions dropped: `overflow` beyond
   * `maxPending`, `refused` when Postgres refuses a decision's values.
   */
  onDropped?: (count: number, reason: 'overflow' | 'refused') => void;
}

/** A decision plus what the audit table keeps beyond the contract. */
export type RecordedDecision = PolicyDecision & { clientId: string | null };

/**
 * Writes policy decisions to `policy_decisions` off the request path: the
 * request only appends to a queue; a timer (or a full batch) writes the
 * queue in one transaction, one multi-row insert per tenant (row-level
 * security needs the tenant set per insert). A failed write keeps the batch
 * for the next attempt; `close()` writes everything still queued. A batch
 * whose values Postgres refuses is written again one decision at a time and
 * the decisions refused alone are set aside (logged, counted): retried, they
 * would fail forever ahead of every later decision.
 */
export function createDecisionRecorder(options: DecisionRecorderOptions) {
  const maxPending = options.maxPending ?? 100_000;
  let pending: RecordedDecision[] = [];
  let flushing: Promise<boolean> | undefined;
  const timer = setInterval(() => void flushOnce(), options.flushMs);
  timer.unref();

  async function write(batch: RecordedDecision[]): Promise<void> {
    const byTenant = new Map<string, RecordedDecision[]>();
    for (const decision of batch) byTenant.set(decision.tenantId, [...(byTenant.get(decision.tenantId) ?? []), decision]);
    await inTransaction(options.pool, async (client) => {
      for (const [tenantId, decisions] of byTenant) {
        await setTenant(client, tenantId);
        const column = <K extends keyof RecordedDecision>(key: K) => decisions.map((d) => d[key]);
        await client.query(
          `INSERT INTO policy_decisions (decision_id, tenant_id, subject, client_id, operation_id, operation_type, allow,
             reason_code, explanation, bundle_sha256, correlation_id, decided_at, region)
           SELECT *, $13::text FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
             $7::boolean[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[])`,
          [
            column('decisionId'),
            column('tenantId'),
            column('subject'),
            column('clientId'),
            column('operationId'),
            column('operationType'),
            column('allow'),
            column('reasonCode'),
            column('explanation'),
            column('bundleSha256'),
            column('correlationId'),
            column('decidedAt'),
            options.region,
          ],
        );
      }
    });
  }

  /** Writes a batch; returns the decisions still to write when the database is unavailable. */
  async function writeIsolating(batch: RecordedDecision[]): Promise<RecordedDecision[]> {
    try {
      await write(batch);
      return [];
    } catch (error) {
      if (!isRefusedDataError(error)) return keepFor(error, batch);
    }
    for (const [index, decision] of batch.entries()) {
      try {
        await write([decision]);
      } catch (error) {
        if (!isRefusedDataError(error)) return keepFor(error, batch.slice(index));
        options.logger.error(
          { err: error, decision_id: decision.decisionId, tenant_id: decision.tenantId },
          'the database refused a policy decision; set aside',
        );
        options.onDropped?.(1, 'refused');
      }
    }
    return [];
  }

  function keepFor(error: unknown, unwritten: RecordedDecision[]): RecordedDecision[] {
    options.logger.error({ err: error, decisions: unwritten.length }, 'writing policy decisions failed; will retry');
    return unwritten;
  }

  /** Writes what is queued now as one batch; false when the database refused it (what is unwritten is queued again). */
  async function flushOnce(): Promise<boolean> {
    if (flushing) await flushing;
    if (pending.length === 0) return true;
    const batch = pending;
    pending = [];
    flushing = writeIsolating(batch).then((unwritten) => {
      if (unwritten.length === 0) return true;
      pending = [...unwritten, ...pending];
      const excess = pending.length - maxPending;
      if (excess > 0) {
        pending = pending.slice(excess);
        options.onDropped?.(excess, 'overflow');
      }
      return false;
    });
    try {
      return await flushing;
    } finally {
      flushing = undefined;
    }
  }

  /** Writes until nothing is queued; false if the database refused. */
  async function flushAll(): Promise<boolean> {
    while (pending.length > 0 || flushing) {
      if (!(await flushOnce())) return false;
    }
    return true;
  }

  return {
    /** Queues one decision; throws if it breaks the PolicyDecision contract (a gateway bug, never the caller's fault). */
    record(decision: RecordedDecision): void {
      const { clientId: _clientId, ...contract } = decision;
      policyDecisionSchema.parse(contract);
      pending.push(decision);
      if (pending.length >= options.batchSize) void flushOnce();
    },

    /** Writes everything queued now; for tests and benchmarks. */
    flush: flushAll,

    /** Stops the timer and writes everything still queued, with one retry; what still fails is logged as lost. */
    async close(): Promise<void> {
      clearInterval(timer);
      if ((await flushAll()) || (await flushAll())) return;
      options.logger.error({ lost: pending.length }, 'policy decisions could not be written at shutdown');
    },
  };
}

export type DecisionRecorder = ReturnType<typeof createDecisionRecorder>;
