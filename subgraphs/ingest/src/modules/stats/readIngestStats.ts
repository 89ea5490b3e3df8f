import { inTransaction, setTenant, type PgPool } from '@coherence/platform';

export interface IngestStats {
  lastSignalAt: string | null;
  backlog: number;
  dedupeRate: number;
  accepted24h: number;
}

/** One tenant's ingest figures, read under that tenant's row-level security scope. */
export async function readIngestStats(pool: PgPool, tenantId: string): Promise<IngestStats> {
  return inTransaction(pool, async (client) => {
    await setTenant(client, tenantId);
    const { rows } = await client.query<{
      last_signal_at: string | null;
      backlog: number;
      accepted_24h: number;
      accepted: string | null;
      deduped: string | null;
    }>(
      `SELECT (SELECT to_json(max(received_at)) #>> '{}' FROM signal_ledger) AS last_signal_at,
              (SELECT coalesce(sum(jsonb_array_length(envelope #> '{payload,signals}')), 0)::int
                 FROM outbox WHERE processed_at IS NULL) AS backlog,
              (SELECT count(*)::int FROM signal_ledger WHERE received_at > now() - interval '24 hours') AS accepted_24h,
              c.accepted, c.deduped
         FROM (SELECT 1) AS one LEFT JOIN ingest_counters c ON true`,
    );
    const row = rows[0];
    const accepted = Number(row?.accepted ?? 0);
    const deduped = Number(row?.deduped ?? 0);
    return {
      lastSignalAt: row?.last_signal_at ?? null,
      backlog: row?.backlog ?? 0,
      dedupeRate: accepted + deduped === 0 ? 0 : deduped / (accepted + deduped),
      accepted24h: row?.accepted_24h ?? 0,
    };
  });
}
