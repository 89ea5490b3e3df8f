import type { PgPool } from '@coherence/platform';

/** Unprojected signals in the outbox over all tenants (through a SECURITY DEFINER function; see migration 002). */
export async function readOutboxBacklog(pool: PgPool): Promise<number> {
  const { rows } = await pool.query<{ backlog: string }>('SELECT ingest_outbox_backlog() AS backlog');
  return Number(rows[0]?.backlog ?? 0);
}
