import { aggregateBySource, aggregateWindow, computeCoherence } from '@coherence/coherence';
import type { SignalInput } from '@coherence/contracts';
import { buildExpectedScores, goldenSignals, loadSignals } from '@coherence/fixtures';
import { deleteGraphOf } from '@coherence/testkit';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The golden datasets end to end: 10 tenants × 10,000 signals pushed through
 * ingest (HTTP, tokens, ledger, outbox), projected by the relay into Neo4j
 * and the read model, and read through the gateway by persisted id. Every
 * tenant's score must equal the checked-in expected file, which is computed
 * independently of the product's code.
 */
const operationId = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;
const expected = buildExpectedScores();
const execFileAsync = promisify(execFile);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
const timings: Record<string, number> = {};
let signals: SignalInput[];

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  app = await startApplication(services, database);
}, 180_000);

afterAll(async () => {
  process.stderr.write(`[coherenceGolden] ${JSON.stringify(timings)}\n`);
  // The graph outlives the database: this file's nodes go while the application's driver is open.
  if (app) await deleteGraphOf(app.driver, `${database.namespace}-`);
  await app?.stop();
  await database?.drop();
}, 300_000);

/** `coherence_scores.as_of` as stored, read as superuser (no tenant context needed). */
async function storedAsOf(tenantId: string): Promise<Date> {
  const client = new pg.Client({ connectionString: database.adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ as_of: Date }>('SELECT as_of FROM coherence_scores WHERE tenant_id = $1', [tenantId]);
    return rows[0]!.as_of;
  } finally {
    await client.end();
  }
}

async function query(name: string, variables: Record<string, unknown>, headers: Record<string, string>) {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: operationId(name) } }, variables }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
}

describe('golden fixtures end to end', () => {
  const tenantId = (base: string) => `${database.namespace}-${base}`;

  it('loads 100,000 signals through ingest and projects them all', async () => {
    signals = goldenSignals(new Date(), { tenantPrefix: `${database.namespace}-` });
    let loadStartedAt = Date.now();
    const loaded = await loadSignals({ ingestUrl: app.ingestUrl, signals, headersFor: (tenant) => app.writeHeaders(tenant) });
    timings['ingestMs'] = Date.now() - loadStartedAt;
    expect(loaded).toMatchObject({ total: 100_000, sent: 100_000, accepted: 100_000, deduped: 0 });

    loadStartedAt = Date.now();
    expect(await app.relay.drainAll()).toBeGreaterThan(0);
    timings['relayMs'] = Date.now() - loadStartedAt;
  }, 900_000);

  it.each(expected.tenants.map((t) => [t.tenantId, t] as const))('%s: the gateway serves the expected score', async (base, tenant) => {
    const { data, errors } = await query('TenantCoherence', { tenantId: tenantId(base) }, await app.readHeaders(tenantId(base)));
    expect(errors).toBeUndefined();
    expect(data!['tenantCoherence']).toMatchObject({
      tenantId: tenantId(base),
      score: tenant.score,
      status: tenant.status,
      agreement: tenant.agreement,
      window: 'PT24H',
      sources: tenant.sources,
    });
    // asOf is the instant the relay computed the score as of, not the row's write time.
    const { asOf } = data!['tenantCoherence'] as { asOf: string };
    expect(new Date(asOf).toISOString()).toBe((await storedAsOf(tenantId(base))).toISOString());
  });

  it('serves a tenant that was never scored as UNKNOWN as of no instant', async () => {
    const never = tenantId('never-scored');
    const { data, errors } = await query('TenantCoherence', { tenantId: never }, await app.readHeaders(never));
    expect(errors).toBeUndefined();
    expect(data!['tenantCoherence']).toMatchObject({ tenantId: never, score: null, status: 'UNKNOWN', asOf: null });
  });

  it.each(expected.tenants.map((t) => [t.tenantId, t] as const))(
    '%s: the Cypher aggregate of the hot path and TypeScript on the raw signals give the expected score',
    async (base, tenant) => {
      const own = signals.filter((s) => s.tenantId === tenantId(base)).map((s) => ({ ...s, weight: s.weight ?? 1 }));
      const fromGraph = computeCoherence(await aggregateWindow(app.driver, tenantId(base), new Date(), 24 * 3_600_000));
      const fromSignals = computeCoherence(aggregateBySource(own));
      const { signalsSha256: _checksum, tenantId: _id, ...expectedScore } = tenant;
      expect(fromGraph).toEqual(expectedScore);
      expect(fromSignals).toEqual(expectedScore);
    },
  );

  it('pages through a tenant’s signals from the graph by persisted id, newest first, each exactly once', async () => {
    const headers = await app.readHeaders(tenantId('golden-07'));
    const seen = new Set<string>();
    let after: string | null = null;
    let previousTs = Number.POSITIVE_INFINITY;
    for (let page = 0; page < 30; page += 1) {
      const { data, errors } = await query('Signals', { tenantId: tenantId('golden-07'), first: 500, after }, headers);
      expect(errors).toBeUndefined();
      const connection = data!['signals'] as {
        edges: { cursor: string; node: { id: string; ts: string; tenantId: string } }[];
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
      };
      for (const { node } of connection.edges) {
        expect(node.tenantId).toBe(tenantId('golden-07'));
        expect(Date.parse(node.ts)).toBeLessThanOrEqual(previousTs);
        previousTs = Date.parse(node.ts);
        seen.add(node.id);
      }
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(seen.size).toBe(10_000);
  });

  it('refuses a cursor it did not give out and a page size over the limit', async () => {
    const headers = await app.readHeaders(tenantId('golden-01'));
    const badCursor = await query('Signals', { tenantId: tenantId('golden-01'), after: 'not-a-cursor' }, headers);
    expect(badCursor.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })]);
    const tooMany = await query('Signals', { tenantId: tenantId('golden-01'), first: 100_000 }, headers);
    expect(tooMany.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })]);
  });

  it('after Neo4j loses the graph, `npm run graph:rebuild` restores every signal from the ledger and every score is identical', async () => {
    const scoresBefore = await storedScores();
    await deleteGraphOf(app.driver, `${database.namespace}-`);
    expect(await graphSignalCount()).toBe(0);

    const started = Date.now();
    const { stdout } = await execFileAsync('npx', ['tsx', 'scripts/graph.ts', 'rebuild', '--json'], {
      cwd: repoRoot,
      env: { ...process.env, REBUILD_DATABASE_URL: database.urls.rebuild, NEO4J_URL: inject('services').neo4jBoltUrl },
    });
    timings['rebuildMs'] = Date.now() - started;
    const report = JSON.parse(stdout) as {
      complete: boolean;
      tenants: { tenantId: string; signals: number; score: { changed: boolean } }[];
    };
    expect(report.complete).toBe(true);
    expect(report.tenants).toHaveLength(expected.tenants.length);
    for (const tenant of report.tenants) expect(tenant).toMatchObject({ signals: 10_000, score: { changed: false } });
    expect(await graphSignalCount()).toBe(100_000);
    expect(await storedScores()).toEqual(scoresBefore);
  }, 600_000);
});

/** Every tenant's stored score without the instants it was computed at. */
async function storedScores() {
  const client = new pg.Client({ connectionString: database.adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      'SELECT tenant_id, score, status, agreement, window_iso, sources FROM coherence_scores ORDER BY tenant_id',
    );
    return rows;
  } finally {
    await client.end();
  }
}

async function graphSignalCount(): Promise<number> {
  const { records } = await app.driver.executeQuery('MATCH (s:Signal) WHERE s.tenantId STARTS WITH $prefix RETURN count(s) AS n', {
    prefix: `${database.namespace}-`,
  });
  return records[0]!.get('n') as number;
}
