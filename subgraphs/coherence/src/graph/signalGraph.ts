import type { AcceptedSignal } from '@coherence/contracts';
import neo4j, { Neo4jError, type Driver } from 'neo4j-driver';
import type { SourceAggregate } from '../modules/coherence/computeCoherence';
import { traceQueries } from './traceQueries';

/** The driver every part of the coherence service uses; each query is a span (traceQueries). */
export function createNeo4jDriver(url: string, auth?: { user: string; password: string }): Driver {
  const driver = neo4j.driver(url, auth ? neo4j.auth.basic(auth.user, auth.password) : undefined, {
    disableLosslessIntegers: true,
  });
  return traceQueries(driver, url);
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
  for (const statement of SCHEMA_STATEMENTS) {
    try {
      await driver.executeQuery(statement);
    } catch (error) {
      // IF NOT EXISTS is not atomic: a process starting beside this one may create the same rule between
      // Neo4j's check and its create. The rule then exists, which is all this function promises.
      if (!(error instanceof Neo4jError && error.code === EQUIVALENT_RULE_EXISTS)) throw error;
    }
  }
}

const EQUIVALENT_RULE_EXISTS = 'Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists';

/**
 * Projects accepted signals as (:Tenant)-[:EMITS]->(:Signal)-[:FROM]->(:Source),
 * idempotently: tenants and sources are MERGEd, and a signal (with its two
 * edges) is created only when no signal with its key exists, so re-delivering
 * an outbox event (the relay is at-least-once) changes nothing. Creating
 * instead of MERGEing the edges keeps the cost per signal flat: a MERGE of
 * (tenant)-[:EMITS]->(signal) has to look at edges of a node that may have
 * tens of thousands. Keys repeated within one call are written once.
 *
 * Every lookup names its index (`USING INDEX`). Neo4j plans a query on the
 * statistics of the moment and plans it again once they have drifted: on a
 * young graph it replanned this write after a few batches into a plan that
 * took 24 s for one batch of 2,000 signals instead of 0.4 s (`bench:golden`
 * on a fresh store stalled so in most runs). With the hints the plan is the
 * same at any size: one unique-index seek per signal, tenant and source
 * (docs/adr/0035-cypher-index-hints.md).
 */
export async function projectSignals(driver: Driver, signals: readonly AcceptedSignal[]): Promise<void> {
  if (signals.length === 0) return;
  const unique = new Map<string, AcceptedSignal>();
  for (const signal of signals)
    unique.set(JSON.stringify([signal.tenantId, signal.source, signal.signalId, Date.parse(signal.ts)]), signal);
  const sources = new Map<string, { tenantId: string; name: string }>();
  for (const { tenantId, source } of unique.values()) sources.set(JSON.stringify([tenantId, source]), { tenantId, name: source });
  await driver.executeQuery(
    `UNWIND $sources AS source
     MERGE (:Tenant {id: source.tenantId})
     MERGE (:Source {tenantId: source.tenantId, name: source.name})
     WITH count(*) AS merged
     UNWIND $signals AS sig
     OPTIONAL MATCH (existing:Signal {tenantId: sig.tenantId, source: sig.source, signalId: sig.signalId, ts: datetime(sig.ts)})
       USING INDEX existing:Signal(tenantId, source, signalId, ts)
     WITH sig WHERE existing IS NULL
     MATCH (t:Tenant {id: sig.tenantId}) USING INDEX t:Tenant(id)
     MATCH (src:Source {tenantId: sig.tenantId, name: sig.source}) USING INDEX src:Source(tenantId, name)
     CREATE (t)-[:EMITS]->(s:Signal {
         tenantId: sig.tenantId, source: sig.source, signalId: sig.signalId, ts: datetime(sig.ts),
         type: sig.type, value: sig.value, weight: sig.weight, receivedAt: datetime(sig.receivedAt),
         purpose: sig.provenance.purpose, retention: sig.provenance.retention,
         license: sig.provenance.license, residency: sig.provenance.residency
       })-[:FROM]->(src)`,
    { sources: [...sources.values()], signals: [...unique.values()].map((s) => ({ ...s })) },
    { database: 'neo4j' },
  );
}

/**
 * Per-source sums of the tenant's signals with ts in (asOf − window, asOf]:
 * the graph half of the score; `computeCoherence` finishes it.
 */
export async function aggregateWindow(driver: Driver, tenantId: string, asOf: Date, windowMs: number): Promise<SourceAggregate[]> {
  const { records } = await driver.executeQuery(
    // Anchored on the tenant through the (tenantId, ts) index, named so that no replan on other statistics drops it:
    // a range seek, not a walk over every EMITS edge.
    `MATCH (s:Signal {tenantId: $tenantId}) USING INDEX s:Signal(tenantId, ts)
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

/** How many signals of the tenant the graph holds (an index seek on the tenant). */
export async function countTenantSignals(driver: Driver, tenantId: string): Promise<number> {
  const { records } = await driver.executeQuery(
    'MATCH (s:Signal {tenantId: $tenantId}) RETURN count(s) AS n',
    { tenantId },
    { database: 'neo4j' },
  );
  return records[0]!.get('n') as number;
}

/** A signal as the graph holds it, with `ts` and `receivedAt` as the graph renders them (ISO-8601). */
export interface GraphSignal {
  tenantId: string;
  source: string;
  signalId: string;
  ts: string;
  type: string;
  value: number;
  weight: number;
  receivedAt: string;
  provenance: { purpose: string; retention: string; license: string; residency: string };
}

const OPEN_SINCE = '0001-01-01T00:00:00Z';
const OPEN_UNTIL = '9999-12-31T23:59:59Z';

/** Where a page resumes: the sort key of the last signal of the previous page. */
export interface SignalPosition {
  ts: string;
  source: string;
  signalId: string;
}

export interface SignalPageQuery {
  tenantId: string;
  /** Inclusive lower bound on `ts`. */
  since?: string | undefined;
  /** Inclusive upper bound on `ts`. */
  until?: string | undefined;
  first: number;
  after?: SignalPosition | undefined;
}

/**
 * One page of a tenant's signals, newest first. The order (ts, source,
 * signalId) is total because those are the signal's key, so keyset paging
 * never skips or repeats a signal, also while new signals arrive. Reads one
 * more than asked to tell whether another page follows.
 */
export async function readSignalPage(driver: Driver, query: SignalPageQuery): Promise<{ signals: GraphSignal[]; hasNextPage: boolean }> {
  const { records } = await driver.executeQuery(
    `MATCH (s:Signal {tenantId: $tenantId})
     WHERE s.ts >= datetime($since) AND s.ts <= datetime($until)
       AND ($afterTs IS NULL OR s.ts < datetime($afterTs)
            OR (s.ts = datetime($afterTs) AND (s.source < $afterSource OR (s.source = $afterSource AND s.signalId < $afterSignalId))))
     RETURN s.tenantId AS tenantId, s.source AS source, s.signalId AS signalId, toString(s.ts) AS ts, s.type AS type,
            s.value AS value, s.weight AS weight, toString(s.receivedAt) AS receivedAt,
            {purpose: s.purpose, retention: s.retention, license: s.license, residency: s.residency} AS provenance
     ORDER BY s.ts DESC, s.source DESC, s.signalId DESC
     LIMIT $limit`,
    {
      tenantId: query.tenantId,
      // Open bounds become the widest instants so the (tenantId, ts) index always serves the range.
      since: query.since ?? OPEN_SINCE,
      until: query.until ?? OPEN_UNTIL,
      afterTs: query.after?.ts ?? null,
      afterSource: query.after?.source ?? null,
      afterSignalId: query.after?.signalId ?? null,
      limit: neo4j.int(query.first + 1),
    },
    { database: 'neo4j', routing: neo4j.routing.READ },
  );
  const signals = records.slice(0, query.first).map((r) => r.toObject() as GraphSignal);
  return { signals, hasNextPage: records.length > query.first };
}
