import type { CoherenceScore } from '@coherence/contracts';
import { setTenant, type PgClient, type PgPool } from '@coherence/platform';
import type { Coherence } from './computeCoherence';

interface ScoreRow {
  tenant_id: string;
  score: number | null;
  status: CoherenceScore['status'];
  agreement: number | null;
  window_iso: string;
  sources: CoherenceScore['sources'];
  as_of: string;
  updated_at: string;
}

/**
 * The score as clients see it, with `asOf`: the instant the score was computed
 * as of (its window ends there), so a client can reproduce it; `updatedAt` is
 * only when the row was written. A tenant never computed is UNKNOWN, as of no instant.
 */
export type CoherenceScoreRead = Omit<CoherenceScore, 'asOf'> & { asOf: string | null };

/** See {@link CoherenceScoreRead}. */
export async function readCoherenceScore(pool: PgPool, tenantId: string, windowIso: string): Promise<CoherenceScoreRead> {
  // One round trip: the function sets the tenant for row-level security and reads (coherence migration 006).
  const { rows } = await pool.query<ScoreRow>('SELECT * FROM coherence_read_score($1)', [tenantId]);
  const row = rows[0];
  if (!row) {
    return {
      tenantId,
      score: null,
      status: 'UNKNOWN',
      agreement: null,
      window: windowIso,
      asOf: null,
      updatedAt: new Date().toISOString(),
      sources: [],
    };
  }
  return {
    tenantId: row.tenant_id,
    score: row.score,
    status: row.status,
    agreement: row.agreement,
    window: row.window_iso,
    asOf: row.as_of,
    updatedAt: row.updated_at,
    sources: row.sources,
  };
}

/**
 * Takes the score lock of each tenant until the caller's transaction ends.
 * Relays run side by side on different events of one tenant; each writes its
 * signals to the graph, then reads the graph and writes the score. Without the
 * lock, a relay that read the graph before another's signals landed could
 * write its score after the other's and leave a score missing them, and both
 * would record the same change from the same previous state. Under it, the
 * last relay to write a tenant's score read the graph after every earlier one
 * had written its own signals (docs/adr/0019-scale-out.md). Locks are taken in
 * one order (by key, in the subquery), so two relays never wait for each other.
 */
export async function lockTenantScores(client: PgClient, tenantIds: readonly string[]): Promise<void> {
  await client.query(
    `SELECT pg_advisory_xact_lock(key)
       FROM (SELECT DISTINCT hashtextextended('coherence.score:' || tenant_id, 0) AS key
               FROM unnest($1::text[]) AS tenant_id ORDER BY key) AS keys`,
    [tenantIds],
  );
}

/**
 * Upserts a tenant's score inside the caller's transaction and returns the
 * previous score and status, so the caller can tell whether anything changed,
 * and the stored `updatedAt`.
 */
export async function upsertCoherenceScore(
  client: PgClient,
  tenantId: string,
  coherence: Coherence,
  windowIso: string,
  asOf: Date,
): Promise<{ previous: Pick<CoherenceScore, 'score' | 'status'> | null; updatedAt: string }> {
  await setTenant(client, tenantId);
  const { rows } = await client.query<{ score: number | null; status: CoherenceScore['status'] }>(
    'SELECT score, status FROM coherence_scores WHERE tenant_id = $1 FOR UPDATE',
    [tenantId],
  );
  const upserted = await client.query<{ updated_at: string }>(
    `INSERT INTO coherence_scores (tenant_id, score, status, agreement, window_iso, sources, as_of, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now())
     ON CONFLICT (tenant_id) DO UPDATE SET score = EXCLUDED.score, status = EXCLUDED.status, agreement = EXCLUDED.agreement,
       window_iso = EXCLUDED.window_iso, sources = EXCLUDED.sources, as_of = EXCLUDED.as_of, updated_at = now()
     RETURNING to_json(updated_at) #>> '{}' AS updated_at`,
    [tenantId, coherence.score, coherence.status, coherence.agreement, windowIso, JSON.stringify(coherence.sources), asOf],
  );
  return { previous: rows[0] ?? null, updatedAt: upserted.rows[0]!.updated_at };
}
