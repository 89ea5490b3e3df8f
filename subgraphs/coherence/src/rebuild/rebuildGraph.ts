import type { AcceptedSignal, Provenance } from '@coherence/contracts';
import { inTransaction, type PgPool } from '@coherence/platform';
import { Neo4jError, type Driver } from 'neo4j-driver';
import { randomUUID } from 'node:crypto';
import { countTenantSignals, projectSignals } from '../graph/signalGraph';
import { lockTenantScores } from '../modules/coherence/readModel';
import { recomputeScore } from '../modules/coherence/recomputeScore';

export interface GraphRebuildOptions {
  /** rebuild_app (or a superuser): reads every tenant's ledger, writes scores and the checkpoints. */
  pool: PgPool;
  driver: Driver;
  windowHours: number;
  /** Ledger rows read and projected per step (one Neo4j transaction). Default 2_000. */
  batchSize?: number;
  /** Told after every step, for progress output. */
  onProgress?: (progress: TenantProgress) => void;
  /** Stops after the step in flight; its checkpoint is kept, so the next run resumes there. */
  signal?: AbortSignal;
  now?: () => Date;
}

export interface TenantProgress {
  tenantId: string;
  /** Ledger rows projected so far in this tenant's rebuild (also by an earlier, interrupted run). */
  projected: number;
  /** Ledger rows of the tenant when its rebuild started this run. */
  total: number;
}

export interface TenantRebuild {
  tenantId: string;
  /** Ledger rows projected (create-if-absent: a signal already in the graph is left as it is). */
  signals: number;
  /** The run continued a checkpoint an earlier run left. */
  resumed: boolean;
  /** False when the run was stopped before this tenant finished. */
  finished: boolean;
  /** The recomputed score; absent when not finished. */
  score?: { score: number | null; status: string; changed: boolean };
}

export interface TenantPlan {
  tenantId: string;
  ledgerSignals: number;
  graphSignals: number;
  /** Ledger rows an interrupted run already projected, if it left a checkpoint. */
  resumeAfter: number | null;
}

interface LedgerRow {
  source: string;
  signal_id: string;
  ts: string;
  type: string;
  value: number;
  weight: number;
  provenance: Provenance;
  received_at: string;
}

interface Checkpoint {
  after_source: string | null;
  after_signal_id: string | null;
  after_ts: string | null;
  signals: string;
}

const CONSTRAINT_RACE = 'Neo.ClientError.Schema.ConstraintValidationFailed';

/**
 * Rebuilds Neo4j, and then the read model, from the signal ledger: the
 * recovery when the graph's data is lost or suspect (docs/runbooks/graph-rebuild.md).
 *
 * Per tenant, ledger rows are read in key order (keyset paging on the
 * primary key) and projected with the relay's own create-if-absent write, so
 * a rebuild beside a running relay, or over a graph that still holds some of
 * the signals, adds only what is missing and never duplicates. After each
 * step the position is checkpointed in `graph_rebuild_progress`; a run that
 * crashed or was stopped resumes there. When a tenant's ledger is through,
 * its score is recomputed from the graph like the relay does; a change is
 * recorded in the score history, which the relay's sweep publishes.
 *
 * Instants are read as ISO text, not JS Dates: a Date would cut the
 * microseconds Postgres keeps, and the signal's graph key would no longer be
 * the ledger's.
 */
export function createGraphRebuild(options: GraphRebuildOptions) {
  const batchSize = options.batchSize ?? 2_000;
  const now = options.now ?? (() => new Date());
  const windowMs = options.windowHours * 3_600_000;
  const windowIso = `PT${options.windowHours}H`;
  const { pool, driver } = options;

  /** Every tenant with ledger rows, by a loose index scan on the primary key (no full scan of the ledger). */
  async function ledgerTenants(): Promise<string[]> {
    const { rows } = await pool.query<{ tenant_id: string }>(
      `WITH RECURSIVE t AS (
         (SELECT tenant_id FROM signal_ledger ORDER BY tenant_id LIMIT 1)
         UNION ALL
         SELECT (SELECT tenant_id FROM signal_ledger WHERE tenant_id > t.tenant_id ORDER BY tenant_id LIMIT 1) FROM t WHERE t.tenant_id IS NOT NULL
       )
       SELECT tenant_id FROM t WHERE tenant_id IS NOT NULL`,
    );
    return rows.map((row) => row.tenant_id);
  }

  async function ledgerCount(tenantId: string): Promise<number> {
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM signal_ledger WHERE tenant_id = $1', [tenantId]);
    return Number(rows[0]!.n);
  }

  async function openCheckpoint(tenantId: string): Promise<Checkpoint | undefined> {
    const { rows } = await pool.query<Checkpoint>(
      `SELECT after_source, after_signal_id, to_json(after_ts) #>> '{}' AS after_ts, signals
         FROM graph_rebuild_progress WHERE tenant_id = $1 AND finished_at IS NULL`,
      [tenantId],
    );
    return rows[0];
  }

  async function readLedgerPage(tenantId: string, after: Checkpoint): Promise<LedgerRow[]> {
    const { rows } = await pool.query<LedgerRow>(
      `SELECT source, signal_id, to_json(ts) #>> '{}' AS ts, type, value, weight, provenance,
              to_json(received_at) #>> '{}' AS received_at
         FROM signal_ledger
        WHERE tenant_id = $1 AND ($2::text IS NULL OR (source, signal_id, ts) > ($2, $3, $4::timestamptz))
        ORDER BY source, signal_id, ts
        LIMIT $5`,
      [tenantId, after.after_source, after.after_signal_id, after.after_ts, batchSize],
    );
    return rows;
  }

  /** The relay's write; a concurrent relay creating the same signal first makes it fail once, and the retry skips it. */
  async function project(signals: AcceptedSignal[]): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await projectSignals(driver, signals);
      } catch (error) {
        if (!(error instanceof Neo4jError && error.code === CONSTRAINT_RACE) || attempt >= 3) throw error;
      }
    }
  }

  async function rebuildTenant(tenantId: string, runId: string): Promise<TenantRebuild> {
    const existing = await openCheckpoint(tenantId);
    const position: Checkpoint = existing ?? { after_source: null, after_signal_id: null, after_ts: null, signals: '0' };
    if (!existing) {
      await pool.query(
        `INSERT INTO graph_rebuild_progress (tenant_id) VALUES ($1)
         ON CONFLICT (tenant_id) DO UPDATE SET after_source = NULL, after_signal_id = NULL, after_ts = NULL, signals = 0,
           started_at = now(), updated_at = now(), finished_at = NULL`,
        [tenantId],
      );
    }
    let projected = Number(position.signals);
    const total = await ledgerCount(tenantId);
    for (;;) {
      if (options.signal?.aborted) return { tenantId, signals: projected, resumed: existing !== undefined, finished: false };
      const rows = await readLedgerPage(tenantId, position);
      if (rows.length === 0) break;
      await project(rows.map((row) => toAcceptedSignal(tenantId, row)));
      const last = rows.at(-1)!;
      projected += rows.length;
      Object.assign(position, {
        after_source: last.source,
        after_signal_id: last.signal_id,
        after_ts: last.ts,
        signals: String(projected),
      });
      await pool.query(
        `UPDATE graph_rebuild_progress SET after_source = $2, after_signal_id = $3, after_ts = $4, signals = $5, updated_at = now()
          WHERE tenant_id = $1`,
        [tenantId, last.source, last.signal_id, last.ts, projected],
      );
      options.onProgress?.({ tenantId, projected, total });
    }
    const recomputed = await inTransaction(pool, async (client) => {
      // A relay may be scoring the same tenant: one score writer per tenant at a time (docs/adr/0019-scale-out.md).
      await lockTenantScores(client, [tenantId]);
      const result = await recomputeScore(client, driver, tenantId, {
        asOf: now(),
        windowMs,
        windowIso,
        cause: { correlationId: `graph-rebuild-${runId}`, causationId: null },
      });
      await client.query('UPDATE graph_rebuild_progress SET finished_at = now(), updated_at = now() WHERE tenant_id = $1', [tenantId]);
      return result;
    });
    return {
      tenantId,
      signals: projected,
      resumed: existing !== undefined,
      finished: true,
      score: { score: recomputed.score, status: recomputed.status, changed: recomputed.changed },
    };
  }

  return {
    /** The tenants to rebuild: the given ones, else every tenant with ledger rows. */
    async tenants(only?: readonly string[]): Promise<string[]> {
      return only && only.length > 0 ? [...only] : ledgerTenants();
    },

    /** What a rebuild would do, changing nothing (`--dry-run`). */
    async plan(tenantIds: readonly string[]): Promise<TenantPlan[]> {
      const plans: TenantPlan[] = [];
      for (const tenantId of tenantIds) {
        const checkpoint = await openCheckpoint(tenantId);
        plans.push({
          tenantId,
          ledgerSignals: await ledgerCount(tenantId),
          graphSignals: await countTenantSignals(driver, tenantId),
          resumeAfter: checkpoint ? Number(checkpoint.signals) : null,
        });
      }
      return plans;
    },

    /** Rebuilds the tenants one after the other; stops early (resumably) when `signal` aborts. */
    async run(tenantIds: readonly string[]): Promise<TenantRebuild[]> {
      const runId = randomUUID();
      const results: TenantRebuild[] = [];
      for (const tenantId of tenantIds) {
        const result = await rebuildTenant(tenantId, runId);
        results.push(result);
        if (!result.finished) break;
      }
      return results;
    },
  };
}

export type GraphRebuild = ReturnType<typeof createGraphRebuild>;

function toAcceptedSignal(tenantId: string, row: LedgerRow): AcceptedSignal {
  return {
    tenantId,
    source: row.source,
    signalId: row.signal_id,
    ts: row.ts,
    type: row.type,
    value: row.value,
    weight: row.weight,
    provenance: row.provenance,
    receivedAt: row.received_at,
  };
}
