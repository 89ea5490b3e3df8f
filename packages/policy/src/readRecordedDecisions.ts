import type { PgPool } from '@coherence/platform';
import type { ReplayedDecision } from './simulateDecisions';

export interface RecordedDecisionQuery {
  /** Decisions made at or after this time. */
  since: Date;
  /** Only the decisions filed under these tenants; absent, every tenant's. */
  tenantIds?: readonly string[] | undefined;
  /** Rows per query. Default 1_000. */
  pageSize?: number;
}

interface Row {
  decision_id: string;
  tenant_id: string;
  input: unknown;
  allow: boolean;
  reason_code: string;
  /** As text: keeps Postgres' microseconds, which a Date would round away and the next page would repeat or skip. */
  decided_at: string;
}

/**
 * The recorded decisions that kept their input (gateway migration 004), page
 * by page in the order they were made: one row per decision as filed, so a
 * request filed under two tenants is two decisions, as in the table. Reads
 * every tenant's rows: `pool` connects as a role row-level security does not
 * hold to one tenant (the migrating superuser; docs/runbooks/policy-rollout.md).
 */
export async function* readRecordedDecisions(pool: PgPool, query: RecordedDecisionQuery): AsyncGenerator<ReplayedDecision> {
  const pageSize = query.pageSize ?? 1_000;
  let after = { decidedAt: null as string | null, id: null as string | null };
  for (;;) {
    const { rows }: { rows: Row[] } = await pool.query<Row>(
      `SELECT decision_id, tenant_id, input, allow, reason_code, decided_at::text AS decided_at
         FROM policy_decisions
        WHERE input IS NOT NULL AND decided_at >= $1
          AND ($2::text[] IS NULL OR tenant_id = ANY($2))
          AND ($3::timestamptz IS NULL OR (decided_at, decision_id) > ($3::timestamptz, $4::uuid))
        ORDER BY decided_at, decision_id
        LIMIT $5`,
      [query.since, query.tenantIds ?? null, after.decidedAt, after.id, pageSize],
    );
    for (const row of rows)
      yield { id: row.decision_id, tenantId: row.tenant_id, input: row.input, allow: row.allow, reasonCode: row.reason_code };
    const last = rows.at(-1);
    if (!last || rows.length < pageSize) return;
    after = { decidedAt: last.decided_at, id: last.decision_id };
  }
}
