import { randomUUID } from 'node:crypto';
import {
  SIGNALS_ACCEPTED,
  TENANT_AGGREGATE,
  type AcceptedSignal,
  type OutboxEvent,
  type Provenance,
  type Signal,
} from '@coherence/contracts';
import { inTransaction, setTenant, type PgPool } from '@coherence/platform';

export interface StoreResult {
  accepted: number;
  deduped: number;
}

export interface StoreContext {
  /** Provenance for signals that arrive without one. */
  defaultProvenance: Provenance;
  correlationId: string;
  traceparent: string;
}

/**
 * Writes a validated batch to the signal ledger and, for each tenant with
 * newly accepted signals, one outbox event, all in ONE transaction: either
 * every part of the batch is stored or none is. Signals whose key
 * `(tenantId, source, signalId, ts)` is already stored count as deduped.
 */
export async function storeSignals(pool: PgPool, signals: readonly Signal[], context: StoreContext): Promise<StoreResult> {
  const byTenant = groupByTenant(signals);
  return inTransaction(pool, async (client) => {
    let accepted = 0;
    for (const [tenantId, tenantSignals] of byTenant) {
      await setTenant(client, tenantId);
      // RETURNING gives exactly the newly stored rows (in-batch repeats and
      // earlier copies are not returned), with ts as Postgres normalised it.
      const inserted = await client.query<Omit<AcceptedSignal, 'tenantId'>>(
        `INSERT INTO signal_ledger (tenant_id, source, signal_id, ts, type, value, weight, provenance)
         SELECT $1, r.source, r."signalId", r.ts, r.type, r.value, r.weight, r.provenance
           FROM jsonb_to_recordset($2::jsonb)
             AS r(source text, "signalId" text, ts timestamptz, type text, value float8, weight float8, provenance jsonb)
         ON CONFLICT DO NOTHING
         RETURNING source, signal_id AS "signalId", to_json(ts) #>> '{}' AS ts, type, value, weight, provenance,
                   to_json(received_at) #>> '{}' AS "receivedAt"`,
        [tenantId, JSON.stringify(tenantSignals.map((s) => ({ ...s, provenance: s.provenance ?? context.defaultProvenance })))],
      );
      const tenantAccepted = inserted.rows.length;
      accepted += tenantAccepted;
      await client.query(
        `INSERT INTO ingest_counters (tenant_id, accepted, deduped) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE
           SET accepted = ingest_counters.accepted + EXCLUDED.accepted, deduped = ingest_counters.deduped + EXCLUDED.deduped`,
        [tenantId, tenantAccepted, tenantSignals.length - tenantAccepted],
      );
      if (tenantAccepted === 0) continue;

      const event: OutboxEvent = {
        messageId: randomUUID(),
        tenantId,
        aggregateType: TENANT_AGGREGATE,
        aggregateId: tenantId,
        type: SIGNALS_ACCEPTED,
        timestamp: new Date().toISOString(),
        correlationId: context.correlationId,
        causationId: null,
        schemaVersion: 1,
        traceparent: context.traceparent,
        payload: { signals: inserted.rows.map((row) => ({ tenantId, ...row })) },
      };
      await client.query('INSERT INTO outbox (tenant_id, message_id, type, envelope) VALUES ($1, $2, $3, $4)', [
        tenantId,
        event.messageId,
        event.type,
        JSON.stringify(event),
      ]);
    }
    return { accepted, deduped: signals.length - accepted };
  });
}

function groupByTenant(signals: readonly Signal[]): Map<string, Signal[]> {
  const byTenant = new Map<string, Signal[]>();
  for (const signal of signals) {
    const group = byTenant.get(signal.tenantId);
    if (group) group.push(signal);
    else byTenant.set(signal.tenantId, [signal]);
  }
  return byTenant;
}
