import type { PgClient, PgPool } from '@coherence/platform';

/**
 * The relay's SQL over the outbox (docs/adr/0008). An event is pending while
 * `processed_at IS NULL`; it is *due* when it has never failed, or its backoff
 * (`relay_available_at`) has passed. Claims lock with SKIP LOCKED so relays
 * can run side by side, and always go by id: the order events were written.
 */

export interface ClaimedRow {
  id: string;
  tenant_id: string;
  envelope: unknown;
  age_seconds: number;
  /** Failed attempts so far. */
  relay_attempts: number;
}

const CLAIMED_COLUMNS = `id, tenant_id, envelope, relay_attempts, EXTRACT(EPOCH FROM now() - created_at)::float8 AS age_seconds`;

/** Up to `limit` events that never failed, oldest first. */
export async function claimFresh(client: PgClient, limit: number): Promise<ClaimedRow[]> {
  const { rows } = await client.query<ClaimedRow>(
    `SELECT ${CLAIMED_COLUMNS} FROM outbox
      WHERE processed_at IS NULL AND relay_attempts = 0
      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows;
}

/** The oldest event that failed before and whose backoff has passed, if any. */
export async function claimDueRetry(client: PgClient): Promise<ClaimedRow[]> {
  const { rows } = await client.query<ClaimedRow>(
    `SELECT ${CLAIMED_COLUMNS} FROM outbox
      WHERE processed_at IS NULL AND relay_attempts > 0 AND relay_available_at <= now()
      ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
  );
  return rows;
}

/** One event by id, if still pending and not locked by another relay. */
export async function claimById(client: PgClient, id: string): Promise<ClaimedRow[]> {
  const { rows } = await client.query<ClaimedRow>(
    `SELECT ${CLAIMED_COLUMNS} FROM outbox WHERE id = $1 AND processed_at IS NULL FOR UPDATE SKIP LOCKED`,
    [id],
  );
  return rows;
}

export async function markProcessed(client: PgClient, ids: readonly string[]): Promise<void> {
  await client.query('UPDATE outbox SET processed_at = now() WHERE id = ANY($1::bigint[])', [ids]);
}

export interface FailureOutcome {
  /** The event's failed attempts, this one included. */
  attempts: number;
  /** Moved to outbox_quarantine (out of the pending set). */
  quarantined: boolean;
  /** When not quarantined: milliseconds until it is due again. */
  retryInMs: number;
}

/**
 * Counts a failure against one pending event inside the caller's transaction:
 * it becomes due again after `min(baseMs · 2^(attempts−1), maxMs)`, or, at
 * `maxAttempts` (or with `quarantineNow`, for an event that can never
 * succeed), moves to outbox_quarantine with its error and attempt history.
 * Returns undefined when the event is no longer pending (another relay
 * projected it meanwhile).
 */
export async function recordFailure(
  client: PgClient,
  id: string,
  error: string,
  policy: { maxAttempts: number; retryBaseMs: number; retryMaxMs: number; quarantineNow?: boolean },
): Promise<FailureOutcome | undefined> {
  // In SET, relay_attempts is the value before this failure: the first failure waits baseMs.
  const { rows } = await client.query<{ attempts: number; retry_in_ms: number }>(
    `UPDATE outbox
        SET relay_attempts = relay_attempts + 1, relay_error = $2,
            relay_first_failed_at = COALESCE(relay_first_failed_at, now()), relay_last_failed_at = now(),
            relay_available_at = now() + make_interval(secs => least($3::float8 * 2 ^ relay_attempts, $4::float8) / 1000)
      WHERE id = $1 AND processed_at IS NULL
      RETURNING relay_attempts AS attempts, (EXTRACT(EPOCH FROM relay_available_at - now()) * 1000)::float8 AS retry_in_ms`,
    [id, error, policy.retryBaseMs, policy.retryMaxMs],
  );
  const row = rows[0];
  if (!row) return undefined;
  if (!policy.quarantineNow && row.attempts < policy.maxAttempts)
    return { attempts: row.attempts, quarantined: false, retryInMs: row.retry_in_ms };
  await client.query(
    `WITH moved AS (DELETE FROM outbox WHERE id = $1 RETURNING *)
     INSERT INTO outbox_quarantine (id, tenant_id, message_id, type, envelope, created_at, error, attempts, first_seen, last_seen)
     SELECT id, tenant_id, message_id, type, envelope, created_at, relay_error, relay_attempts, relay_first_failed_at, relay_last_failed_at
       FROM moved`,
    [id],
  );
  return { attempts: row.attempts, quarantined: true, retryInMs: 0 };
}

/**
 * Whether an event has been due for longer than `seconds` and is still
 * pending: the relay's readiness (createProgressWatch) asks this only when it
 * has made no progress for that long itself.
 */
export async function hasWorkWaitingLongerThan(pool: PgPool, seconds: number): Promise<boolean> {
  const { rows } = await pool.query<{ waiting: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM outbox
        WHERE processed_at IS NULL AND COALESCE(relay_available_at, created_at) < now() - make_interval(secs => $1)
     ) AS waiting`,
    [seconds],
  );
  return rows[0]?.waiting ?? false;
}

/** Quarantined events right now (the `relay_outbox_quarantined` gauge). */
export async function countQuarantined(pool: PgPool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox_quarantine');
  return rows[0]?.n ?? 0;
}
