import { inTransaction, type PgClient, type PgPool } from '@coherence/platform';

/**
 * What an operator does with events the relay gave up on (docs/adr/0008,
 * docs/runbooks/outbox-quarantine.md): `npm run outbox -- list|retry|drop`.
 * Connects as relay_app, which sees every tenant's outbox and quarantine.
 */

export interface QuarantinedEvent {
  id: string;
  tenantId: string;
  messageId: string;
  attempts: number;
  error: string;
  firstSeen: string;
  lastSeen: string;
  quarantinedAt: string;
}

/** A pending event that failed at least once and waits for its next attempt. */
export interface RetryingEvent {
  id: string;
  tenantId: string;
  attempts: number;
  error: string;
  firstSeen: string;
  lastSeen: string;
  nextAttemptAt: string;
}

const iso = (column: string) => `to_json(${column}) #>> '{}'`;

export async function listQuarantined(pool: PgPool): Promise<QuarantinedEvent[]> {
  const { rows } = await pool.query<QuarantinedEvent>(
    `SELECT id, tenant_id AS "tenantId", message_id AS "messageId", attempts, error,
            ${iso('first_seen')} AS "firstSeen", ${iso('last_seen')} AS "lastSeen", ${iso('quarantined_at')} AS "quarantinedAt"
       FROM outbox_quarantine ORDER BY id`,
  );
  return rows;
}

export async function listRetrying(pool: PgPool): Promise<RetryingEvent[]> {
  const { rows } = await pool.query<RetryingEvent>(
    `SELECT id, tenant_id AS "tenantId", relay_attempts AS attempts, relay_error AS error,
            ${iso('relay_first_failed_at')} AS "firstSeen", ${iso('relay_last_failed_at')} AS "lastSeen",
            ${iso('relay_available_at')} AS "nextAttemptAt"
       FROM outbox WHERE processed_at IS NULL AND relay_attempts > 0 ORDER BY id`,
  );
  return rows;
}

/** Which ids a command acted on, or, when some were not in quarantine, those (and nothing was changed). */
export type QuarantineChange = { ok: true; ids: string[] } | { ok: false; missing: string[] };

/**
 * Locks the quarantined events named (all of them for `'all'`) and runs
 * `change` on their ids, unless one of the ids is not in quarantine: then
 * nothing changes, so a typo never half-applies a command.
 */
async function changeQuarantined(
  pool: PgPool,
  ids: readonly string[] | 'all',
  change: (ids: string[], client: PgClient) => Promise<void>,
): Promise<QuarantineChange> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      'SELECT id FROM outbox_quarantine WHERE $1::bigint[] IS NULL OR id = ANY($1::bigint[]) ORDER BY id FOR UPDATE',
      [ids === 'all' ? null : ids],
    );
    const found = rows.map((row) => row.id);
    const missing = ids === 'all' ? [] : ids.filter((id) => !found.includes(id));
    if (missing.length > 0) return { ok: false, missing };
    if (found.length > 0) await change(found, client);
    return { ok: true, ids: found };
  });
}

/**
 * Puts quarantined events back into the outbox's pending set with their
 * original ids, so the relay (which claims by id) takes them before anything
 * written after them, in the order they were first written. They start over
 * with no failed attempts; `relay_available_at` = now says they have been
 * waiting since now, not since they were written, for the stall check.
 */
export async function retryQuarantined(pool: PgPool, ids: readonly string[] | 'all'): Promise<QuarantineChange> {
  return changeQuarantined(pool, ids, async (found, client) => {
    await client.query(
      `WITH moved AS (DELETE FROM outbox_quarantine WHERE id = ANY($1::bigint[]) RETURNING id, tenant_id, message_id, type, envelope, created_at)
       INSERT INTO outbox (id, tenant_id, message_id, type, envelope, created_at, relay_available_at)
       SELECT id, tenant_id, message_id, type, envelope, created_at, now() FROM moved ORDER BY id`,
      [found],
    );
  });
}

/** Deletes quarantined events for good: their signals stay in the ledger but never reach the graph. */
export async function dropQuarantined(pool: PgPool, ids: readonly string[]): Promise<QuarantineChange> {
  return changeQuarantined(pool, ids, async (found, client) => {
    await client.query('DELETE FROM outbox_quarantine WHERE id = ANY($1::bigint[])', [found]);
  });
}
