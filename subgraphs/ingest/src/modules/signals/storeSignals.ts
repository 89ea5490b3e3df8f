import { randomUUID } from 'node:crypto';
import { SIGNALS_ACCEPTED, TENANT_AGGREGATE, type OutboxEvent, type Provenance, type Signal } from '@coherence/contracts';
import { inTransaction, setTenant, type PgClient, type PgPool } from '@coherence/platform';

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
  return inTransaction(pool, (client) => writeSignals(client, signals, context));
}

/**
 * {@link storeSignals} inside a transaction the caller owns, for callers that
 * commit more in the same transaction (the HTTP idempotency record).
 */
export async function writeSignals(client: PgClient, signals: readonly Signal[], context: StoreContext): Promise<StoreResult> {
  let accepted = 0;
  for (const [tenantId, tenantSignals] of groupByTenant(signals)) {
    await setTenant(client, tenantId);
    const header: Omit<OutboxEvent, 'payload'> = {
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
    };
    // One statement (one round trip) per tenant: the ledger insert, the
    // running counters and the outbox event. RETURNING gives exactly the
    // newly stored rows (in-batch repeats and earlier copies are not
    // returned), so the event carries those only, with ts as Postgres
    // normalised it; no event is written when nothing was new.
    const { rows } = await client.query<{ accepted: number }>(
      `WITH inserted AS (
         INSERT INTO signal_ledger (tenant_id, source, signal_id, ts, type, value, weight, provenance)
         SELECT $1, r.source, r."signalId", r.ts, r.type, r.value, r.weight, r.provenance
           FROM jsonb_to_recordset($2::jsonb)
             AS r(source text, "signalId" text, ts timestamptz, type text, value float8, weight float8, provenance jsonb)
         ON CONFLICT DO NOTHING
         RETURNING source, signal_id, ts, type, value, weight, provenance, received_at
       ), counted AS (
         INSERT INTO ingest_counters (tenant_id, accepted, deduped)
         SELECT $1, count(*), $3::int - count(*) FROM inserted
         ON CONFLICT (tenant_id) DO UPDATE
           SET accepted = ingest_counters.accepted + EXCLUDED.accepted, deduped = ingest_counters.deduped + EXCLUDED.deduped
       ), event AS (
         INSERT INTO outbox (tenant_id, message_id, type, envelope)
         SELECT $1, ($4::jsonb ->> 'messageId')::uuid, $4::jsonb ->> 'type',
                $4::jsonb || jsonb_build_object('payload', jsonb_build_object('signals', jsonb_agg(jsonb_build_object(
                  'tenantId', $1::text, 'source', i.source, 'signalId', i.signal_id, 'ts', to_json(i.ts) #>> '{}',
                  'type', i.type, 'value', i.value, 'weight', i.weight, 'provenance', i.provenance,
                  'receivedAt', to_json(i.received_at) #>> '{}'))))
           FROM inserted i
         HAVING count(*) > 0
       )
       SELECT count(*)::int AS accepted FROM inserted`,
      [
        tenantId,
        JSON.stringify(tenantSignals.map((s) => ({ ...s, provenance: s.provenance ?? context.defaultProvenance }))),
        tenantSignals.length,
        JSON.stringify(header),
      ],
    );
    accepted += rows[0]?.accepted ?? 0;
  }
  return { accepted, deduped: signals.length - accepted };
}

/**
 * Tenants, and each tenant's signals, in key order: concurrent transactions
 * (HTTP requests, consumer partitions) then take their row locks in the same
 * order and cannot deadlock on overlapping keys.
 */
function groupByTenant(signals: readonly Signal[]): [string, Signal[]][] {
  const byTenant = new Map<string, Signal[]>();
  for (const signal of signals) {
    const group = byTenant.get(signal.tenantId);
    if (group) group.push(signal);
    else byTenant.set(signal.tenantId, [signal]);
  }
  const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...byTenant]
    .sort(([a], [b]) => compare(a, b))
    .map(([tenantId, group]) => [
      tenantId,
      group.sort((a, b) => compare(a.source, b.source) || compare(a.signalId, b.signalId) || Date.parse(a.ts) - Date.parse(b.ts)),
    ]);
}
