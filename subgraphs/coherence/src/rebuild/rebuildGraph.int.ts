import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { deleteGraphOf } from '@coherence/testkit';
import { createPgPool, type PgPool } from '@coherence/platform';
import neo4j, { type Driver } from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { countTenantSignals, createNeo4jDriver, ensureGraphSchema, projectSignals } from '../graph/signalGraph';
import { aggregateBySource, computeCoherence } from '../modules/coherence/computeCoherence';
import { createGraphRebuild } from './rebuildGraph';

/**
 * The graph rebuild against the real Postgres ledger and Neo4j, as
 * rebuild_app: it restores exactly what the ledger holds, never duplicates,
 * resumes after a stop, and leaves the same scores the relay computes.
 */
let database: TestDatabase;
let driver: Driver;
let admin: PgPool;
let rebuildPool: PgPool;
const WINDOW_HOURS = 24;
const now = new Date();

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  driver = createNeo4jDriver(services.neo4jBoltUrl);
  await ensureGraphSchema(driver);
  admin = createPgPool(database.adminUrl);
  rebuildPool = createPgPool(database.urls.rebuild);
});

afterAll(async () => {
  if (driver && database) await deleteGraphOf(driver, `${database.namespace}-`);
  await rebuildPool?.end();
  await admin?.end();
  await driver?.close();
  await database?.drop();
});

interface LedgerSignal {
  source: string;
  signalId: string;
  ts: string;
  value: number;
  weight: number;
}

const provenance = { purpose: 'monitoring', retention: 'P30D', license: 'internal', residency: 'us' };

/** `count` signals over the last 20 hours in three sources, values and weights varied but reproducible. */
function signalsFor(count: number): LedgerSignal[] {
  return Array.from({ length: count }, (_, i) => ({
    source: ['api', 'db', 'queue'][i % 3]!,
    signalId: `s-${i}`,
    ts: new Date(now.getTime() - ((i * 7919) % (20 * 3_600_000))).toISOString(),
    value: ((i * 37) % 100) / 100,
    weight: 1 + (i % 4),
  }));
}

async function insertLedger(tenantId: string, signals: readonly LedgerSignal[]): Promise<void> {
  await admin.query(
    `INSERT INTO signal_ledger (tenant_id, source, signal_id, ts, type, value, weight, provenance)
     SELECT $1, s.source, s.signal_id, s.ts, 'health', s.value, s.weight, $3::jsonb
       FROM jsonb_to_recordset($2::jsonb) AS s(source text, signal_id text, ts timestamptz, value float8, weight float8)`,
    [tenantId, JSON.stringify(signals.map((s) => ({ ...s, signal_id: s.signalId }))), JSON.stringify(provenance)],
  );
}

async function deleteTenantGraph(tenantId: string, limit?: number): Promise<void> {
  await driver.executeQuery(
    limit === undefined
      ? 'MATCH (n) WHERE n.tenantId = $tenantId OR n.id = $tenantId DETACH DELETE n'
      : 'MATCH (s:Signal {tenantId: $tenantId}) WITH s LIMIT $limit DETACH DELETE s',
    { tenantId, limit: neo4j.int(limit ?? 0) },
  );
}

async function storedScore(tenantId: string) {
  const { rows } = await admin.query<{ score: number | null; status: string; sources: unknown }>(
    'SELECT score, status, sources FROM coherence_scores WHERE tenant_id = $1',
    [tenantId],
  );
  return rows[0];
}

const historyRows = async (tenantId: string) =>
  Number((await admin.query('SELECT count(*) AS n FROM coherence_score_history WHERE tenant_id = $1', [tenantId])).rows[0].n);

const rebuild = (options: Partial<Parameters<typeof createGraphRebuild>[0]> = {}) =>
  createGraphRebuild({ pool: rebuildPool, driver, windowHours: WINDOW_HOURS, batchSize: 1_000, now: () => now, ...options });

describe('graph rebuild from the ledger', () => {
  const tenant = (name: string) => `${database.namespace}-${name}`;

  it('restores every ledger signal of a wiped tenant and the score the ledger implies', async () => {
    const signals = signalsFor(4_500);
    await insertLedger(tenant('wiped'), signals);
    const results = await rebuild().run([tenant('wiped')]);

    expect(results).toEqual([expect.objectContaining({ tenantId: tenant('wiped'), signals: 4_500, finished: true, resumed: false })]);
    expect(await countTenantSignals(driver, tenant('wiped'))).toBe(4_500);
    const expected = computeCoherence(aggregateBySource(signals));
    expect(await storedScore(tenant('wiped'))).toEqual({ score: expected.score, status: expected.status, sources: expected.sources });
    // The new score is a change, recorded for the relay's sweep to publish.
    expect(await historyRows(tenant('wiped'))).toBe(1);
  });

  it('is idempotent: a second run adds no signal and records no change', async () => {
    const before = await storedScore(tenant('wiped'));
    const [result] = await rebuild().run([tenant('wiped')]);
    expect(result).toMatchObject({ signals: 4_500, finished: true, score: { changed: false } });
    expect(await countTenantSignals(driver, tenant('wiped'))).toBe(4_500);
    expect(await storedScore(tenant('wiped'))).toEqual(before);
    expect(await historyRows(tenant('wiped'))).toBe(1);
  });

  it('adds only the missing signals to a partly lost graph', async () => {
    await deleteTenantGraph(tenant('wiped'), 1_700);
    expect(await countTenantSignals(driver, tenant('wiped'))).toBe(2_800);
    await rebuild().run([tenant('wiped')]);
    expect(await countTenantSignals(driver, tenant('wiped'))).toBe(4_500);
  });

  it('stops after the batch in flight when aborted and resumes from its checkpoint', async () => {
    await insertLedger(tenant('resumed'), signalsFor(3_500));
    const stop = new AbortController();
    const first = await rebuild({ signal: stop.signal, onProgress: () => stop.abort() }).run([tenant('resumed'), tenant('wiped')]);
    expect(first).toEqual([expect.objectContaining({ tenantId: tenant('resumed'), signals: 1_000, finished: false })]);
    expect(await countTenantSignals(driver, tenant('resumed'))).toBe(1_000);
    expect(await storedScore(tenant('resumed'))).toBeUndefined();

    const [plan] = await rebuild().plan([tenant('resumed')]);
    expect(plan).toEqual({ tenantId: tenant('resumed'), ledgerSignals: 3_500, graphSignals: 1_000, resumeAfter: 1_000 });

    const progress: number[] = [];
    const [second] = await rebuild({ onProgress: (p) => progress.push(p.projected) }).run([tenant('resumed')]);
    expect(progress).toEqual([2_000, 3_000, 3_500]);
    expect(second).toMatchObject({ signals: 3_500, resumed: true, finished: true });
    expect(await countTenantSignals(driver, tenant('resumed'))).toBe(3_500);
    expect((await storedScore(tenant('resumed')))?.status).not.toBe('UNKNOWN');
  });

  it('keeps the key of an instant written with an offset and microseconds, so the relay’s node is not duplicated', async () => {
    const ts = '2026-11-26T09:30:00.123456+02:00';
    await projectSignals(driver, [
      {
        tenantId: tenant('precise'),
        source: 'api',
        signalId: 'p-1',
        ts,
        type: 'health',
        value: 0.5,
        weight: 1,
        provenance,
        receivedAt: ts,
      },
    ]);
    await insertLedger(tenant('precise'), [{ source: 'api', signalId: 'p-1', ts, value: 0.5, weight: 1 }]);
    // A signal one microsecond later is another signal: both must be there, once each.
    await insertLedger(tenant('precise'), [{ source: 'api', signalId: 'p-1', ts: '2026-11-26T07:30:00.123457Z', value: 0.5, weight: 1 }]);
    await rebuild().run([tenant('precise')]);
    expect(await countTenantSignals(driver, tenant('precise'))).toBe(2);
  });

  it('finds every tenant with ledger rows when none is named, and a dry run changes nothing', async () => {
    const tenants = await rebuild().tenants();
    expect(tenants).toEqual([tenant('precise'), tenant('resumed'), tenant('wiped')]);
    await deleteTenantGraph(tenant('precise'));
    const plans = await rebuild().plan(tenants);
    expect(plans.find((p) => p.tenantId === tenant('precise'))).toEqual({
      tenantId: tenant('precise'),
      ledgerSignals: 2,
      graphSignals: 0,
      resumeAfter: null,
    });
    expect(await countTenantSignals(driver, tenant('precise'))).toBe(0);
  });
});
