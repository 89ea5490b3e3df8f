import { randomUUID } from 'node:crypto';
import { SIGNALS_ACCEPTED, TENANT_AGGREGATE, type OutboxEvent, type Provenance, type Signal } from '@coherence/contracts';
import { inTransaction, type PgClient, type PgPool } from '@coherence/platform';
import { traceHeadersOf, withTenantBaggage } from '@coherence/telemetry';

export interface StoreResult {
  accepted: number;
  deduped: number;
}

export interface StoreContext {
  /** Provenance for signals that arrive without one. */
  defaultProvenance: Provenance;
  correlationId: string;
}

/**
 * Writes a validated batch to the signal ledger and, for each tenant with
 * newly accepted signals, one outbox event: either every part of the batch is
 * stored or none is. Signals whose key `(tenantId, source, signalId, ts)` is
 * already stored count as deduped. A single-tenant batch is one statement,
 * so one round trip in its own implicit transaction; several tenants share
 * one explicit transaction.
 */
export async function storeSignals(pool: PgPool, signals: readonly Signal[], context: StoreContext): Promise<StoreResult> {
  const byTenant = groupByTenant(signals);
  if (byTenant.length === 1) return countStored(signals, await storeTenantSignals(pool, byTenant[0]!, context));
  return inTransaction(pool, (client) => writeSignals(client, signals, context));
}

/**
 * {@link storeSignals} inside a transaction the caller owns, for callers that
 * commit more in the same transaction (the HTTP idempotency record).
 */
export async function writeSignals(client: PgClient, signals: readonly Signal[], context: StoreContext): Promise<StoreResult> {
  let accepted = 0;
  for (const tenantSignals of groupByTenant(signals)) accepted += await storeTenantSignals(client, tenantSignals, context);
  return countStored(signals, accepted);
}

const countStored = (signals: readonly Signal[], accepted: number): StoreResult => ({ accepted, deduped: signals.length - accepted });

/**
 * One tenant's signals through `ingest_store_signals` (ingest migration 004):
 * row-level security's tenant, the ledger insert, the running counters and
 * the outbox event in one statement. Returns how many signals were new.
 */
async function storeTenantSignals(
  db: PgPool | PgClient,
  [tenantId, tenantSignals]: [string, Signal[]],
  context: StoreContext,
): Promise<number> {
  const write = tenantWrite(tenantId, tenantSignals, context);
  const { rows } = await db.query<{ accepted: number }>('SELECT ingest_store_signals($1, $2::jsonb, $3::jsonb) AS accepted', [
    write.tenant,
    JSON.stringify(write.signals),
    JSON.stringify(write.header),
  ]);
  return rows[0]!.accepted;
}

/** One push's validated signals, as the group commit holds them until its group is written. */
export interface SignalPush {
  signals: readonly Signal[];
  context: StoreContext;
}

/**
 * Several pushes in one transaction and round trip (`ingest_store_signal_groups`, ingest migration 007), each
 * stored as {@link storeSignals} would store it alone: one write per tenant of each push. The writes go in tenant
 * order, so that concurrent groups lock the tenants' counter rows in one order. Throws when Postgres refuses any
 * of them: then none is stored.
 */
export async function storeSignalGroup(pool: PgPool, pushes: readonly SignalPush[]): Promise<StoreResult[]> {
  const writes = pushes
    .flatMap((push, index) =>
      groupByTenant(push.signals).map(([tenantId, signals]) => ({ index, write: tenantWrite(tenantId, signals, push.context) })),
    )
    .sort((a, b) => compareText(a.write.tenant, b.write.tenant));
  const { rows } = await pool.query<{ accepted: number[] }>('SELECT ingest_store_signal_groups($1::jsonb) AS accepted', [
    JSON.stringify(writes.map(({ write }) => write)),
  ]);
  const accepted = pushes.map(() => 0);
  writes.forEach(({ index }, position) => (accepted[index]! += rows[0]!.accepted[position]!));
  return pushes.map((push, index) => countStored(push.signals, accepted[index]!));
}

/**
 * The arguments of `ingest_store_signals` for one tenant's signals, each with its provenance. The event carries the
 * trace of the work that stores it (request or Kafka slice) with the tenant as baggage, so the relay continues it
 * (docs/adr/0020-traces.md).
 */
function tenantWrite(tenantId: string, signals: readonly Signal[], context: StoreContext) {
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
    ...traceHeadersOf(withTenantBaggage(tenantId)),
  };
  return { tenant: tenantId, signals: signals.map((s) => ({ ...s, provenance: s.provenance ?? context.defaultProvenance })), header };
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

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
  return [...byTenant]
    .sort(([a], [b]) => compareText(a, b))
    .map(([tenantId, group]) => [
      tenantId,
      group.sort((a, b) => compareText(a.source, b.source) || compareText(a.signalId, b.signalId) || Date.parse(a.ts) - Date.parse(b.ts)),
    ]);
}
