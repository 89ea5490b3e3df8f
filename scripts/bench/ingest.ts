/**
 * `npm run bench:ingest`: load on `POST /v1/signals` against the real
 * servers on this machine, with autocannon. Not a test: it prints a summary,
 * writes reports/bench-ingest.json, and exits 1 only if a target is missed.
 *
 * 1. baseline: GET /healthz at the same fixed rate (what the machine, the
 *    HTTP stack and the load generator cost on their own);
 * 2. single-signal pushes at a fixed 3,000 requests/s for 60 s, over 10
 *    tenants, each request a new signal: p95 time-to-202 ≤ 50 ms, 0 errors;
 * 3. batch throughput: batches of 100, 500 and 1,000 signals as fast as
 *    they are accepted; the best signals/s is reported;
 * 4. what the write policy costs, in the same run: single-signal pushes at
 *    the fixed rate, then as fast as accepted, against a second ingest
 *    process with INGEST_WRITE_POLICY=off and against the first (policy on),
 *    in alternating slices (off/on, then on/off, …) so that a machine whose
 *    load drifts weighs on both alike; --policy-duration seconds each;
 * 5. what group commit gives (docs/adr/0029-ingest-group-commit.md), the
 *    same way: a third process with INGEST_GROUP_COMMIT_MS=0 against the
 *    first.
 *
 * Postgres runs with fsync and synchronous_commit on, as in production (the
 * test servers turn both off): a 202 waits for a durable commit, and that wait
 * is part of what is measured. Before 2026-11-27 this bench ran them off.
 *
 * Ingest runs as its own process at LOG_LEVEL=warn, as it ships:
 * NODE_ENV=production (no contract check of each decision; every token names
 * a registered API client), the write policy on and its tenants registered;
 * the limiter is set out of the way. The process with the write policy off
 * cannot run under NODE_ENV=production (ingest refuses it there); without
 * the policy the setting changes nothing else on a push's path. Options: --duration <s> for the fixed-rate run (default 60),
 * --batch-duration <s> (default 15), --policy-duration <s> (default 15, also
 * each group commit on / off run), --rate <req/s> (default 3000).
 */
import { ensureDevInternalKeys, ensureDevKeys, mintDevToken, SCOPES } from '@coherence/auth';
import { freePort } from '@coherence/devservices';
import { spawnManaged, waitUntilHealthy } from '@coherence/devservices/managedProcess';
import type autocannon from 'autocannon';
import { join } from 'node:path';
import pg from 'pg';
import { allPassed, checkLines } from './support/checks';
import { parseNumberArgs } from '../commandLine';
import { BENCH_ISSUER, productionTrust } from './support/productionTrust';
import { describeMachine, productionNode, repoRoot, watchMachine, writeReport } from './support/report';
import { runLoad, sampleLoad, summarizeLoad, type LoadResult, type LoadSample } from './support/runLoad';
import { withServers } from './support/servers';

const usage = `usage: npm run bench:ingest -- [--duration 60] [--batch-duration 15] [--policy-duration 15] [--rate 3000]
  --duration         seconds of single-signal pushes at the fixed rate (default 60)
  --batch-duration   seconds of load per batch size (default 15)
  --policy-duration  seconds of each policy on / off and group commit on / off run (default 15)
  --rate             requests per second of the fixed-rate runs (default 3000)`;
const {
  duration: durationSeconds,
  'batch-duration': batchDurationSeconds,
  'policy-duration': policyDurationSeconds,
  rate: ratePerSecond,
} = parseNumberArgs(usage, { duration: 60, 'batch-duration': 15, 'policy-duration': 15, rate: 3000 });
const TARGET_P95_MS = 50;
const TENANTS = 10;
/** The API client the bench's tokens name, registered for each of its tenants. */
const BENCH_CLIENT = 'bench-producer';
/** The policy comparison's runs are cut into this many slices, alternating off and on. */
const POLICY_SLICES = 4;

const say = (message: string) => console.log(`[bench] ${message}`);

const machine = watchMachine();
// Durable Postgres: a 202 includes waiting for a durable commit (see above).
const serverOptions = { tempPrefix: 'coherence-bench-', say, durable: true };
const exitCode = await withServers(serverOptions, async ({ rootDir, services, database, defer }) => {
  const keys = await ensureDevKeys(join(rootDir, 'keys'));
  const trust = await productionTrust(rootDir);
  const jwksPath = trust.renamed(keys.jwksPath, 'bench-jwks.json');
  const internalJwksPath = trust.renamed((await ensureDevInternalKeys(join(rootDir, 'keys'))).jwksPath, 'bench-internal-jwks.json');
  const admin = new pg.Client({ connectionString: database.adminUrl });
  await admin.connect();
  defer(() => admin.end());
  const tenants = Array.from({ length: TENANTS }, (_, i) => `${database.namespace}-bench${i}`);
  // The write policy stores signals of registered tenants residing in ingest's region only.
  await admin.query(`INSERT INTO tenants (tenant_id, residency) SELECT unnest($1::text[]), 'us'`, [tenants]);
  // Under NODE_ENV=production a token's client_id must name an enabled API client of its tenant (ADR 0031).
  await admin.query(`INSERT INTO api_clients (tenant_id, client_id, scopes) SELECT unnest($1::text[]), $2, $3`, [
    tenants,
    BENCH_CLIENT,
    [SCOPES.writeSelf],
  ]);

  const { binary: nodeBinary, version: nodeVersion } = await productionNode();
  say(`ingest runs on Node ${nodeVersion}`);
  /** An ingest process on its own port; `env` turns the write policy or group commit off for the comparisons. */
  const startIngest = async (name: string, env: Record<string, string> = {}) => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const child = spawnManaged({
      name,
      command: nodeBinary,
      args: ['--import', 'tsx', join(repoRoot, 'subgraphs/ingest/src/main.ts')],
      cwd: repoRoot,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        INGEST_PORT: `${port}`,
        INGEST_SUBGRAPH_PORT: '0',
        INGEST_ADMIN_PORT: `${adminPort}`,
        INGEST_DATABASE_URL: database.urls.ingest,
        SUBGRAPH_INTERNAL_JWKS: internalJwksPath,
        INGEST_REGION: 'us',
        INGEST_JWKS: jwksPath,
        INGEST_TOKEN_ISSUERS: BENCH_ISSUER,
        INGEST_POLICY_BUNDLE_DIR: trust.bundleDir,
        INGEST_POLICY_PUBLIC_KEY: trust.artifactPublicKey,
        INGEST_REDIS_URL: services.endpoints.redisUrl,
        INGEST_RATE_PER_SECOND: '10000000',
        INGEST_RATE_BURST: '10000000',
        ...env,
      },
      logFile: join(services.logDir, `${name}.log`),
    });
    defer(() => child.stop());
    const url = `http://127.0.0.1:${port}`;
    await waitUntilHealthy(name, child.logFile, async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok, 60_000, child);
    return url;
  };
  const url = await startIngest('ingest');
  const policyOffUrl = await startIngest('ingest-policy-off', { INGEST_WRITE_POLICY: 'off', NODE_ENV: 'development' });
  const groupCommitOffUrl = await startIngest('ingest-group-commit-off', { INGEST_GROUP_COMMIT_MS: '0' });

  const tokens = await Promise.all(
    tenants.map((tenant) =>
      mintDevToken(keys.privateKeyPath, {
        sub: 'bench',
        tenant,
        scopes: [SCOPES.writeSelf],
        residency: ['us'],
        issuer: BENCH_ISSUER,
        clientId: BENCH_CLIENT,
      }),
    ),
  );
  let sequence = 0;
  const ts = new Date(Date.now() - 60_000).toISOString();
  const pushRequest = (batchSize: number): autocannon.Request => ({
    method: 'POST',
    path: '/v1/signals',
    setupRequest: (request) => {
      const n = (sequence += 1);
      const tenant = n % TENANTS;
      const signals = Array.from({ length: batchSize }, (_, i) => ({
        tenantId: tenants[tenant],
        source: 'bench',
        signalId: `${n}-${i}`,
        ts,
        type: 'load',
        value: 0.5,
      }));
      return {
        ...request,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[tenant]}` },
        body: JSON.stringify({ signals }),
      };
    },
  });

  say('warm-up: 5 s of single-signal pushes');
  await runLoad({ url, connections: 10, duration: 5, requests: [pushRequest(1)] });

  say(`baseline: GET /healthz at ${ratePerSecond} req/s for 10 s`);
  const baseline = await runLoad({ url: `${url}/healthz`, connections: 50, overallRate: ratePerSecond, duration: 10 });

  say(`single-signal pushes at ${ratePerSecond} req/s for ${durationSeconds} s`);
  const single = await runLoad({ url, connections: 50, overallRate: ratePerSecond, duration: durationSeconds, requests: [pushRequest(1)] });

  const batches: (LoadResult & { batchSize: number; signalsPerSecond: number })[] = [];
  for (const batchSize of [100, 500, 1_000]) {
    say(`batches of ${batchSize} as fast as accepted, ${batchDurationSeconds} s`);
    const result = await runLoad({ url, connections: 4, duration: batchDurationSeconds, requests: [pushRequest(batchSize)], timeout: 30 });
    batches.push({
      ...result,
      batchSize,
      signalsPerSecond: Math.round(((result.requests - result.non2xx) * batchSize) / result.durationSeconds),
    });
  }
  const best = batches.reduce((a, b) => (b.signalsPerSecond > a.signalsPerSecond ? b : a));

  /**
   * Same run, same database, alternately: single-signal pushes to the first process (`on`) and to one with a feature
   * turned off, at the fixed rate or as fast as accepted.
   */
  const compare = async (feature: string, offUrl: string, load: 'fixed' | 'max') => {
    say(
      `${feature} off vs on: single-signal pushes ${load === 'fixed' ? `at ${ratePerSecond} req/s` : 'as fast as accepted'}, ` +
        `${policyDurationSeconds} s each in ${POLICY_SLICES} alternating slices`,
    );
    const samples: Record<'on' | 'off', LoadSample[]> = { on: [], off: [] };
    for (let slice = 0; slice < POLICY_SLICES; slice += 1) {
      for (const variant of slice % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        samples[variant].push(
          await sampleLoad({
            url: variant === 'on' ? url : offUrl,
            connections: load === 'fixed' ? 50 : 10,
            ...(load === 'fixed' ? { overallRate: ratePerSecond } : {}),
            duration: policyDurationSeconds / POLICY_SLICES,
            requests: [pushRequest(1)],
          }),
        );
      }
    }
    return { off: summarizeLoad(samples.off), on: summarizeLoad(samples.on) };
  };
  for (const offUrl of [policyOffUrl, groupCommitOffUrl]) {
    say(`warm-up of ${offUrl}: 5 s`);
    await runLoad({ url: offUrl, connections: 10, duration: 5, requests: [pushRequest(1)] });
  }
  const { off: offFixed, on: onFixed } = await compare('write policy', policyOffUrl, 'fixed');
  const { off: offMax, on: onMax } = await compare('write policy', policyOffUrl, 'max');
  const policyOff = { fixedRate: offFixed, maxRate: offMax };
  const policyOn = { fixedRate: onFixed, maxRate: onMax };
  const { rows: decided } = await admin.query<{ n: string }>(
    `SELECT count(*) AS n FROM policy_decisions WHERE operation_id = 'POST /v1/signals' AND allow`,
  );
  const policyCost = {
    off: policyOff,
    on: policyOn,
    fixedRateP50DeltaMs: Number((policyOn.fixedRate.latencyMs.p50 - policyOff.fixedRate.latencyMs.p50).toFixed(2)),
    fixedRateP95DeltaMs: Number((policyOn.fixedRate.latencyMs.p95 - policyOff.fixedRate.latencyMs.p95).toFixed(2)),
    maxRateThroughputRatio: Number((policyOn.maxRate.requestsPerSecond / Math.max(policyOff.maxRate.requestsPerSecond, 1)).toFixed(3)),
    allowedDecisionsRecorded: Number(decided[0]!.n),
  };
  const groupCommitFixed = await compare('group commit', groupCommitOffUrl, 'fixed');
  const groupCommitMax = await compare('group commit', groupCommitOffUrl, 'max');
  const groupCommit = {
    off: { fixedRate: groupCommitFixed.off, maxRate: groupCommitMax.off },
    on: { fixedRate: groupCommitFixed.on, maxRate: groupCommitMax.on },
    fixedRateP95RatioOnToOff: Number((groupCommitFixed.on.latencyMs.p95 / Math.max(groupCommitFixed.off.latencyMs.p95, 0.01)).toFixed(3)),
    maxRateThroughputRatio: Number((groupCommitMax.on.requestsPerSecond / Math.max(groupCommitMax.off.requestsPerSecond, 1)).toFixed(3)),
  };

  const stored = Number((await admin.query<{ n: string }>('SELECT count(*) AS n FROM signal_ledger')).rows[0]!.n);
  const deduped = Number((await admin.query<{ n: string | null }>('SELECT sum(deduped) AS n FROM ingest_counters')).rows[0]!.n ?? 0);

  const singleErrors = single.non2xx + single.errors + single.timeouts;
  const checks = {
    [`p95 time-to-202 ≤ ${TARGET_P95_MS} ms`]: single.latencyMs.p95 <= TARGET_P95_MS,
    'zero errors at the fixed rate': singleErrors === 0,
    [`sustained ≥ 99% of ${ratePerSecond} req/s`]: single.requestsPerSecond >= ratePerSecond * 0.99,
    'nothing deduped (every request was a new signal)': deduped === 0,
    'zero errors with the write policy on or off': [offFixed, onFixed, offMax, onMax].every((r) => r.non2xx + r.errors + r.timeouts === 0),
    'zero errors with group commit on or off': [groupCommitFixed, groupCommitMax].every(({ on, off }) =>
      [on, off].every((r) => r.non2xx + r.errors + r.timeouts === 0),
    ),
  };
  const report = {
    when: new Date().toISOString(),
    machine: machine.report(),
    ingestNode: nodeVersion,
    ingestEnvironment: 'NODE_ENV=production (the policy-off process: development, which ingest requires for it)',
    setup: {
      ingestLogLevel: 'warn',
      tenants: TENANTS,
      connectionsAtFixedRate: 50,
      connectionsForBatches: 4,
      connectionsAsFastAsAccepted: 10,
      writePolicy: 'on, except the INGEST_WRITE_POLICY=off process of the comparison',
    },
    baselineHealthz: baseline,
    singleSignal: {
      ...single,
      targetRequestsPerSecond: ratePerSecond,
      p95VsHealthz: Number((single.latencyMs.p95 / Math.max(baseline.latencyMs.p95, 0.01)).toFixed(1)),
    },
    batches,
    bestBatch: { batchSize: best.batchSize, signalsPerSecond: best.signalsPerSecond },
    policyCost,
    groupCommit,
    ledger: { stored, deduped },
    checks,
    passed: allPassed(checks),
  };
  writeReport('bench-ingest.json', report);

  console.log(`
ingest benchmark (${describeMachine(report.machine)}; ingest on Node ${nodeVersion}, NODE_ENV=production)
  /healthz baseline  ${baseline.requestsPerSecond} req/s  p50 ${baseline.latencyMs.p50} ms  p95 ${baseline.latencyMs.p95} ms
  single signal      ${single.requestsPerSecond} req/s  p50 ${single.latencyMs.p50} ms  p95 ${single.latencyMs.p95} ms  p99 ${single.latencyMs.p99} ms  errors ${singleErrors}  (p95 = ${report.singleSignal.p95VsHealthz}× /healthz)
${batches.map((b) => `  batch of ${String(b.batchSize).padEnd(5)}     ${b.signalsPerSecond} signals/s  (${b.requestsPerSecond} req/s, p95 ${b.latencyMs.p95} ms, errors ${b.non2xx + b.errors + b.timeouts})`).join('\n')}
  write policy off   fixed rate ${policyOff.fixedRate.requestsPerSecond} req/s  p50 ${policyOff.fixedRate.latencyMs.p50} ms  p95 ${policyOff.fixedRate.latencyMs.p95} ms;  as fast as accepted ${policyOff.maxRate.requestsPerSecond} req/s  p95 ${policyOff.maxRate.latencyMs.p95} ms
  write policy on    fixed rate ${policyOn.fixedRate.requestsPerSecond} req/s  p50 ${policyOn.fixedRate.latencyMs.p50} ms  p95 ${policyOn.fixedRate.latencyMs.p95} ms;  as fast as accepted ${policyOn.maxRate.requestsPerSecond} req/s  p95 ${policyOn.maxRate.latencyMs.p95} ms
  policy cost        p50 ${policyCost.fixedRateP50DeltaMs} ms, p95 ${policyCost.fixedRateP95DeltaMs} ms at the fixed rate; throughput × ${policyCost.maxRateThroughputRatio}; ${policyCost.allowedDecisionsRecorded} ALLOWED decisions recorded
  group commit off   fixed rate ${groupCommit.off.fixedRate.requestsPerSecond} req/s  p95 ${groupCommit.off.fixedRate.latencyMs.p95} ms;  as fast as accepted ${groupCommit.off.maxRate.requestsPerSecond} req/s  p95 ${groupCommit.off.maxRate.latencyMs.p95} ms
  group commit on    fixed rate ${groupCommit.on.fixedRate.requestsPerSecond} req/s  p95 ${groupCommit.on.fixedRate.latencyMs.p95} ms;  as fast as accepted ${groupCommit.on.maxRate.requestsPerSecond} req/s  p95 ${groupCommit.on.maxRate.latencyMs.p95} ms  (throughput × ${groupCommit.maxRateThroughputRatio}, fixed-rate p95 × ${groupCommit.fixedRateP95RatioOnToOff})
  ledger             ${stored} stored, ${deduped} deduped
${checkLines(checks)}
  report: reports/bench-ingest.json`);
  return report.passed ? 0 : 1;
});
process.exit(exitCode);
