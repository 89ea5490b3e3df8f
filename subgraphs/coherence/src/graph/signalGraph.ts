import type { AcceptedSignal } from '@coherence/contracts';
import neo4j, { type Driver } from 'neo4j-driver';
import type { SourceAggregate } from '../modules/coherence/computeCoherence';

export function createNeo4jDriver(url: string, auth?: { user: string; password: string }): Driver {
  return neo4j.driver(url, auth ? neo4j.auth.basic(auth.user, auth.password) : undefined, {
    disableLosslessIntegers: true,
  });
}

/**
 * Constraints double as the indexes MERGE needs, and make concurrent MERGEs
 * of the same node safe. Idempotent: run at every start.
 */
const SCHEMA_STATEMENTS = [
  'CREATE CONSTRAINT tenant_id IF NOT EXISTS FOR (t:Tenant) REQUIRE t.id IS UNIQUE',
  'CREATE CONSTRAINT source_key IF NOT EXISTS FOR (s:Source) REQUIRE (s.tenantId, s.name) IS UNIQUE',
  'CREATE CONSTRAINT signal_key IF NOT EXISTS FOR (s:Signal) REQUIRE (s.tenantId, s.source, s.signalId, s.ts) IS UNIQUE',
  'CREATE INDEX signal_window IF NOT EXISTS FOR (s:Signal) ON (s.tenantId, s.ts)',
];

export async function ensureGraphSchema(driver: Driver): Promise<void> {
  for (const statement of SCHEMA_STATEMENTS) await driver.executeQuery(statement);
}

/**
 * Projects accepted signals as (:Tenant)-[:EMITS]->(:Signal)-[:FROM]->(:Source).
 * Every node and edge is MERGEd on its key, so re-delivering an outbox event
 * (the relay is at-least-once) changes nothing.
 */
export async function projectSignals(driver: Driver, signals: readonly AcceptedSignal[]): Promise<void> {
  if (signals.length === 0) return;
  await driver.executeQuery(
    `UNWIND $signals AS sig
     MERGE (t:Tenant {id: sig.tenantId})
     MERGE (src:Source {tenantId: sig.tenantId, name: sig.source})
     MERGE (s:Signal {tenantId: sig.tenantId, source: sig.source, signalId: sig.signalId, ts: datetime(sig.ts)})
       ON CREATE SET s.type = sig.type, s.value = sig.value, s.weight = sig.weight,
                     s.receivedAt = datetime(sig.receivedAt),
                     s.purpose = sig.provenance.purpose, s.retention = sig.provenance.retention,
                     s.license = sig.provenance.license, s.residency = sig.provenance.residency
     MERGE (t)-[:EMITS]->(s)
     MERGE (s)-[:FROM]->(src)`,
    { signals: signals.map((s) => ({ ...s })) },
    { database: 'neo4j' },
  );
}

/**
 * Per-source sums of the tenant's signals with ts in (asOf − window, asOf]:
 * the graph half of the score; `computeCoherence` finishes it.
 */
export async function aggregateWindow(driver: Driver, tenantId: string, asOf: Date, windowMs: number): Promise<SourceAggregate[]> {
  const { records } = await driver.executeQuery(
    `MATCH (:Tenant {id: $tenantId})-[:EMITS]->(s:Signal)
     WHERE s.ts > datetime($from) AND s.ts <= datetime($to)
     RETURN s.source AS source, sum(s.weight * s.value) AS weightedSum, sum(s.weight) AS weightSum, count(s) AS count`,
    { tenantId, from: new Date(asOf.getTime() - windowMs).toISOString(), to: asOf.toISOString() },
    { database: 'neo4j' },
  );
  return records.map((r) => ({
    source: r.get('source') as string,
    weightedSum: r.get('weightedSum') as number,
    weightSum: r.get('weightSum') as number,
    count: r.get('count') as number,
  }));
}
