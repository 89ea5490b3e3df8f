import { coherenceChangedMessageSchema, type CoherenceChangedMessage } from '@coherence/contracts';
import { inTransaction, type PgClient, type PgPool } from '@coherence/platform';
import type { ChangePublisher } from '../events/createChangePublisher';

/**
 * `CoherenceChanged` notifications kept in `coherence_score_history`, so that
 * none is lost between the relay's COMMIT and its publish (docs/adr/0004).
 *
 * The relay records each change in the transaction that upserts the read
 * model, publishes right after COMMIT and marks the rows published. Rows a
 * crashed (or Redis-less) relay left unpublished are swept by the next pass:
 * for each tenant only its newest change is sent — an older one would tell
 * subscribers a state that is no longer true — and the older ones are marked
 * as handled. Delivery is at-least-once: a crash after publish and before the
 * mark sends the change again, which subscribers absorb (they coalesce per
 * tenant and re-read the score; a cache invalidation is idempotent).
 */

/** Appends the change to the tenant's score history inside the caller's transaction; returns the row id. */
export async function recordChange(client: PgClient, message: CoherenceChangedMessage): Promise<string> {
  const { current } = message.payload;
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO coherence_score_history (tenant_id, score, status, changed_at, message)
     VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    [message.tenantId, current.score, current.status, message.payload.changedAt, JSON.stringify(message)],
  );
  return rows[0]!.id;
}

export async function markPublished(pool: PgPool, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await pool.query('UPDATE coherence_score_history SET published_at = now() WHERE id = ANY($1::bigint[])', [ids]);
}

interface PendingRow {
  id: string;
  message: unknown;
  superseded: boolean;
}

export interface SweepResult {
  /** Changes sent now. */
  published: number;
  /** Older unpublished changes of a tenant that has a newer one: marked, not sent. */
  superseded: number;
}

/**
 * Publishes changes recorded at least `minAgeMs` ago and still unpublished.
 * The age keeps the sweep off changes another relay committed a moment ago
 * and is about to publish itself; SKIP LOCKED keeps two sweeps apart.
 */
export async function publishPendingChanges(
  pool: PgPool,
  publish: ChangePublisher,
  options: { minAgeMs: number; limit?: number },
): Promise<SweepResult> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<PendingRow>(
      `SELECT h.id, h.message,
              EXISTS (SELECT 1 FROM coherence_score_history newer WHERE newer.tenant_id = h.tenant_id AND newer.id > h.id) AS superseded
         FROM coherence_score_history h
        WHERE h.published_at IS NULL AND h.changed_at < now() - make_interval(secs => $1)
        ORDER BY h.id LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [options.minAgeMs / 1_000, options.limit ?? 500],
    );
    const latest = rows.filter((row) => !row.superseded);
    // A stored message that no longer parses is a bug upstream; parse() throws and the sweep rolls back, loudly.
    await publish(latest.map((row) => coherenceChangedMessageSchema.parse(row.message)));
    await client.query('UPDATE coherence_score_history SET published_at = now() WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
    return { published: latest.length, superseded: rows.length - latest.length };
  });
}
