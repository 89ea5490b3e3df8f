import type { PgPool } from '@coherence/platform';
import type { Driver } from 'neo4j-driver';
import neo4j from 'neo4j-driver';

/** One kind of data with a time-to-live. */
interface PostgresDataset {
  name: string;
  table: string;
  /** The instant the TTL runs from. */
  column: string;
  /** Rows that must stay whatever their age (open work). */
  keep?: string;
  ttlDays: number;
}

export interface RetentionTtls {
  signalsDays: number;
  graphDays: number;
  outboxDays: number;
  policyDecisionsDays: number;
  commsDays: number;
  scoresHistoryDays: number;
  commsEnvelopesDays: number;
  securityEventsDays: number;
}

export interface RetentionOptions {
  /** retention_app (or a superuser): sees and deletes every tenant's rows. */
  pool: PgPool;
  driver: Driver;
  ttls: RetentionTtls;
  /** Rows or nodes per transaction. */
  batchSize: number;
  /**
   * Only tenants whose id starts with this (one tenant, or a test's namespace), taken literally on
   * both stores: `_` and `%` are characters here, not LIKE wildcards. Default all.
   */
  tenantPrefix?: string;
}

export interface RetentionReportRow {
  dataset: string;
  tenantId: string;
  count: number;
  oldest: string;
  newest: string;
}

export interface RetentionOutcome {
  dataset: string;
  /** Absent when the dataset's table does not exist in this database (its service is not deployed here). */
  present: boolean;
  cutoff: string;
  deleted: number;
}

const DAY_MS = 86_400_000;

/**
 * Removes data past its TTL, per dataset (docs/architecture.md, "Stores"; provenance
 * `retention`). Every batch is its own transaction and selects afresh what is
 * eligible, so a run can be interrupted at any point and simply run again; a
 * dry run reports, per dataset and tenant, what would go (count, oldest,
 * newest) and changes nothing.
 *
 * The read model (each tenant's current score) never expires; its history
 * does, except changes not yet published (they are open work).
 */
export function createRetention(options: RetentionOptions) {
  const prefix = options.tenantPrefix ?? '';
  const postgresDatasets: PostgresDataset[] = [
    { name: 'signal_ledger', table: 'signal_ledger', column: 'ts', ttlDays: options.ttls.signalsDays },
    { name: 'outbox', table: 'outbox', column: 'processed_at', keep: 'processed_at IS NULL', ttlDays: options.ttls.outboxDays },
    { name: 'policy_decisions', table: 'policy_decisions', column: 'decided_at', ttlDays: options.ttls.policyDecisionsDays },
    // Quiet-hours decisions of comms: policy decisions too, kept as long as the gateway's.
    { name: 'comms_policy_decisions', table: 'comms_policy_decisions', column: 'decided_at', ttlDays: options.ttls.policyDecisionsDays },
    {
      name: 'comms_commands',
      table: 'dispatch_commands',
      column: 'created_at',
      keep: `state NOT IN ('succeeded', 'cancelled')`,
      ttlDays: options.ttls.commsDays,
    },
    {
      name: 'scores_history',
      table: 'coherence_score_history',
      column: 'changed_at',
      keep: 'published_at IS NULL',
      ttlDays: options.ttls.scoresHistoryDays,
    },
    { name: 'comms_envelopes', table: 'comms_envelopes', column: 'received_at', ttlDays: options.ttls.commsEnvelopesDays },
    { name: 'security_events', table: 'security_events', column: 'occurred_at', ttlDays: options.ttls.securityEventsDays },
  ];
  const cutoffOf = (ttlDays: number, now: Date) => new Date(now.getTime() - ttlDays * DAY_MS).toISOString();
  // Table and column names come from the list above, never from input. starts_with, like Cypher's
  // STARTS WITH, has no wildcards: a LIKE prefix would let `_` or `%` reach other tenants' rows here only.
  const eligible = (d: PostgresDataset) =>
    `FROM ${d.table} WHERE ${d.column} < $1 AND starts_with(tenant_id, $2)${d.keep ? ` AND NOT (${d.keep})` : ''}`;

  async function exists(table: string): Promise<boolean> {
    const { rows } = await options.pool.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [table]);
    return rows[0]!.present;
  }

  async function report(now: Date): Promise<{ rows: RetentionReportRow[]; outcomes: RetentionOutcome[] }> {
    const rows: RetentionReportRow[] = [];
    const outcomes: RetentionOutcome[] = [];
    for (const dataset of postgresDatasets) {
      const cutoff = cutoffOf(dataset.ttlDays, now);
      const present = await exists(dataset.table);
      outcomes.push({ dataset: dataset.name, present, cutoff, deleted: 0 });
      if (!present) continue;
      const result = await options.pool.query<{ tenant_id: string; count: number; oldest: string; newest: string }>(
        `SELECT tenant_id, count(*)::int AS count, to_json(min(${dataset.column})) #>> '{}' AS oldest,
                to_json(max(${dataset.column})) #>> '{}' AS newest
           ${eligible(dataset)} GROUP BY tenant_id ORDER BY tenant_id`,
        [cutoff, prefix],
      );
      for (const row of result.rows)
        rows.push({ dataset: dataset.name, tenantId: row.tenant_id, count: row.count, oldest: row.oldest, newest: row.newest });
    }
    const graphCutoff = cutoffOf(options.ttls.graphDays, now);
    outcomes.push({ dataset: 'graph_signals', present: true, cutoff: graphCutoff, deleted: 0 });
    const graph = await options.driver.executeQuery(
      `MATCH (s:Signal) WHERE s.ts < datetime($cutoff) AND s.tenantId STARTS WITH $prefix
       RETURN s.tenantId AS tenantId, count(s) AS count, toString(min(s.ts)) AS oldest, toString(max(s.ts)) AS newest
       ORDER BY tenantId`,
      { cutoff: graphCutoff, prefix },
      { database: 'neo4j', routing: neo4j.routing.READ },
    );
    for (const record of graph.records)
      rows.push({ dataset: 'graph_signals', ...(record.toObject() as Omit<RetentionReportRow, 'dataset'>) });
    return { rows, outcomes };
  }

  async function apply(
    now: Date,
    control: { signal?: AbortSignal; onBatch?: (dataset: string, deleted: number) => void } = {},
  ): Promise<RetentionOutcome[]> {
    const outcomes: RetentionOutcome[] = [];
    for (const dataset of postgresDatasets) {
      const cutoff = cutoffOf(dataset.ttlDays, now);
      const present = await exists(dataset.table);
      const outcome = { dataset: dataset.name, present, cutoff, deleted: 0 };
      outcomes.push(outcome);
      while (present && !control.signal?.aborted) {
        const { rowCount } = await options.pool.query(
          `DELETE FROM ${dataset.table} WHERE ctid IN (SELECT ctid ${eligible(dataset)} LIMIT $3)`,
          [cutoff, prefix, options.batchSize],
        );
        if (!rowCount) break;
        outcome.deleted += rowCount;
        control.onBatch?.(dataset.name, rowCount);
      }
    }
    const graphCutoff = cutoffOf(options.ttls.graphDays, now);
    const graphOutcome = { dataset: 'graph_signals', present: true, cutoff: graphCutoff, deleted: 0 };
    outcomes.push(graphOutcome);
    while (!control.signal?.aborted) {
      const { records } = await options.driver.executeQuery(
        `MATCH (s:Signal) WHERE s.ts < datetime($cutoff) AND s.tenantId STARTS WITH $prefix
         WITH s LIMIT $batch DETACH DELETE s RETURN count(*) AS deleted`,
        { cutoff: graphCutoff, prefix, batch: neo4j.int(options.batchSize) },
        { database: 'neo4j' },
      );
      const deleted = records[0]!.get('deleted') as number;
      if (deleted === 0) break;
      graphOutcome.deleted += deleted;
      control.onBatch?.('graph_signals', deleted);
    }
    return outcomes;
  }

  return { report, apply };
}

export type Retention = ReturnType<typeof createRetention>;
