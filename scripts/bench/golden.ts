/**
 * `npm run bench:golden [-- --runs 3 --warmup 1]`: the golden load (10 tenants ×
 * 10,000 signals, fixtures/src/golden) end to end, several times in a row on
 * the same servers, timed. Seed v24.1 S7.2 asks reproducible runs within
 * ±5 %; issue 18 asks each run ≤ 40 s. Not a test: it prints a summary, writes
 * reports/bench-golden.json, and exits 1 only if a target is missed.
 *
 * One run is what `e2e/coherenceGolden.e2e.ts` does: the signals are pushed
 * through ingest (HTTP, batches of 1,000, two in flight, a token per tenant),
 * then the relay drains the outbox into Neo4j and the read model. The clock
 * stops at an empty outbox, and every tenant's stored score must then equal
 * the checked-in expected one (each run checks all ten, so a fast wrong run
 * cannot pass).
 *
 * Every run starts from the same state: a fresh database and a Neo4j of its
 * own on a fresh store (started like the dev services' one), and the relay
 * drains after the load, not beside it, so its batches are the same from run
 * to run. Warm-up runs (this process's JIT) are timed and reported but not
 * judged. This bench found the projection's replan stall (signalGraph.ts,
 * `projectSignals`): before the index hints most runs took about 51 s
 * instead of 25 s, one graph write of the run taking 24 s.
 */
import { buildExpectedScores, goldenSignals, loadSignals } from '@coherence/fixtures';
import { createTestDatabase, freePort, startNeo4j, type ServiceEndpoints } from '@coherence/devservices';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { startApplication } from '../../e2e/support/startApplication';
import { allPassed, checkLines } from './support/checks';
import { parseNumberArgs } from '../commandLine';
import { describeMachine, watchMachine, writeReport } from './support/report';
import { withServers } from './support/servers';

const { runs: judgedRuns, warmup: warmupRuns } = parseNumberArgs(
  `usage: npm run bench:golden -- [--runs 3] [--warmup 1]
  --runs    golden runs judged, one after another (default 3)
  --warmup  runs before them, timed and reported but not judged (default 1)`,
  { runs: 3, warmup: 1 },
);
const TARGET_SECONDS = 40;
const TARGET_SPREAD_PERCENT = 5;

const say = (message: string) => console.log(`[bench:golden] ${message}`);
const seconds = (ms: number) => Number((ms / 1_000).toFixed(2));

interface GoldenRun {
  warmup: boolean;
  /** Push of the first signal to the last tenant's expected score stored. */
  seconds: number;
  /** Of which: until ingest had accepted all of them (the rest is the relay's projection). */
  ingestSeconds: number;
  signals: number;
  signalsPerSecond: number;
}

const expected = buildExpectedScores();
const machine = watchMachine();
const exitCode = await withServers({ tempPrefix: 'coherence-bench-golden-', say }, async ({ rootDir, services }) => {
  const results: GoldenRun[] = [];
  for (let i = 0; i < warmupRuns + judgedRuns; i += 1) {
    const warmup = i < warmupRuns;
    const run = await goldenRun(services.endpoints, join(rootDir, `golden-run-${i + 1}`));
    results.push({ warmup, ...run });
    say(
      `run ${i + 1}/${warmupRuns + judgedRuns}${warmup ? ' (warm-up)' : ''}: ${run.seconds} s ` +
        `(ingest ${run.ingestSeconds} s, ${Math.round(run.signalsPerSecond)} signals/s), every score as expected`,
    );
  }

  const judged = results.filter((r) => !r.warmup).map((r) => r.seconds);
  const mean = judged.reduce((sum, s) => sum + s, 0) / judged.length;
  const spreadPercent = Math.max(...judged.map((s) => (Math.abs(s - mean) / mean) * 100));
  const checks = {
    [`every run ≤ ${TARGET_SECONDS} s`]: judged.every((s) => s <= TARGET_SECONDS),
    [`every run within ±${TARGET_SPREAD_PERCENT} % of their mean`]: spreadPercent <= TARGET_SPREAD_PERCENT,
  };
  const report = {
    when: new Date().toISOString(),
    machine: machine.report(),
    settings: { runs: judgedRuns, warmup: warmupRuns, tenants: expected.tenants.length, signalsPerTenant: expected.signalsPerTenant },
    runs: results,
    judged: { seconds: judged, meanSeconds: seconds(mean * 1_000), spreadPercent: Number(spreadPercent.toFixed(2)) },
    targets: { maxSeconds: TARGET_SECONDS, maxSpreadPercent: TARGET_SPREAD_PERCENT },
    checks,
  };
  const path = writeReport('bench-golden.json', report);
  console.log(`
bench:golden: ${report.when} (${describeMachine(report.machine)})
${results.map((r, i) => `  run ${i + 1}${r.warmup ? ' (warm-up)' : ''}: ${r.seconds} s (ingest ${r.ingestSeconds} s)`).join('\n')}
  judged runs: mean ${report.judged.meanSeconds} s, furthest from it ${report.judged.spreadPercent} %
${checkLines(checks)}
report: ${path}`);
  return allPassed(checks) ? 0 : 1;
});
process.exit(exitCode);

/** One golden run on a fresh database and a fresh Neo4j under `runDir`, both gone when it returns. */
async function goldenRun(endpoints: ServiceEndpoints, runDir: string): Promise<Omit<GoldenRun, 'warmup'>> {
  const closers: (() => Promise<unknown>)[] = [async () => rmSync(runDir, { recursive: true, force: true })];
  try {
    const neo4j = await startNeo4j({ boltPort: await freePort(), dataDir: join(runDir, 'neo4j'), logFile: join(runDir, 'neo4j.log') });
    closers.push(() => neo4j.stop());
    const database = await createTestDatabase(endpoints);
    closers.push(() => database.drop());
    const prefix = `${database.namespace}-`;
    const app = await startApplication({ ...endpoints, neo4jBoltUrl: neo4j.boltUrl }, database);
    closers.push(() => app.stop());
    const signals = goldenSignals(new Date(), { tenantPrefix: prefix });
    const startedAt = Date.now();
    const loaded = await loadSignals({ ingestUrl: app.ingestUrl, signals, headersFor: (tenant) => app.writeHeaders(tenant) });
    if (loaded.accepted !== signals.length) throw new Error(`ingest accepted ${loaded.accepted} of ${signals.length} signals`);
    const ingestMs = Date.now() - startedAt;
    await app.relay.drainAll();
    const elapsedMs = Date.now() - startedAt;
    await expectGoldenScores(database.adminUrl, prefix);
    return {
      seconds: seconds(elapsedMs),
      ingestSeconds: seconds(ingestMs),
      signals: signals.length,
      signalsPerSecond: signals.length / (elapsedMs / 1_000),
    };
  } finally {
    // Whatever started is stopped, newest first, also when a later step failed.
    for (const close of closers.reverse()) await close();
  }
}

/** Every golden tenant's stored score, status, agreement and sources equal the expected file's; throws otherwise. */
async function expectGoldenScores(adminUrl: string, prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ tenant_id: string; score: number; status: string; agreement: number; sources: unknown }>(
      'SELECT tenant_id, score, status, agreement, sources FROM coherence_scores WHERE tenant_id LIKE $1',
      [`${prefix}%`],
    );
    for (const tenant of expected.tenants) {
      const row = rows.find((r) => r.tenant_id === `${prefix}${tenant.tenantId}`);
      const stored = row && { score: row.score, status: row.status, agreement: row.agreement, sources: row.sources };
      const { score, status, agreement, sources } = tenant;
      if (!isDeepStrictEqual(stored, { score, status, agreement, sources }))
        throw new Error(
          `${tenant.tenantId}: stored ${JSON.stringify(stored)}, expected ${JSON.stringify({ score, status, agreement, sources })}`,
        );
    }
  } finally {
    await client.end();
  }
}
