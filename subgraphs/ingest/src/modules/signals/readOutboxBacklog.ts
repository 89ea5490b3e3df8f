import type { PgPool } from '@coherence/platform';

/** Unprojected signals in the outbox over all tenants (through a SECURITY DEFINER function; see migration 002). */
export async function readOutboxBacklog(pool: PgPool): Promise<number> {
  const { rows } = await pool.query<{ backlog: string }>('SELECT ingest_outbox_backlog() AS backlog');
  return Number(rows[0]?.backlog ?? 0);
}

/** Seconds since the oldest unprojected outbox event was written, 0 when none waits (SECURITY DEFINER; see migration 006). */
export async function readOutboxLagSeconds(pool: PgPool): Promise<number> {
  const { rows } = await pool.query<{ lag: number }>('SELECT ingest_outbox_lag_seconds() AS lag');
  return rows[0]?.lag ?? 0;
}
