/**
 * `npm run bench:cache`: the `TenantCoherence` persisted operation through
 * the real gateway, with its Redis cache on and off, measured in the same run.
 *
 * Servers: Postgres, Redis, Neo4j, Kafka, Unleash from the dev services kit, and the
 * whole application in this process (`startApplication`: ingest, coherence
 * and comms subgraphs, gateway with the cache on). A second gateway with the
 * cache off runs over the same subgraphs, database and Redis. Data: the 10
 * golden tenants' read-model rows (`coherence_scores`) are written straight
 * from `fixtures/golden/expected-scores.json` — the same scores that loading
 * their 100,000 signals would give, without the minutes that takes.
 *
 * Load: a fixed rate (default 200 req/s) with a Zipf-skewed choice of tenant
 * (tenant k of 10 with weight 1/k^s), each request with its tenant's own
 * token. Cache off and on alternate in slices of 10 s so machine noise hits
 * both alike; during the "on" slices one CoherenceChanged per second
 * invalidates a tenant, as the relay would after a recompute. Targets: hit
 * ratio ≥ 70 % and p95 at least 20 % lower with the cache. Prints a summary,
 * writes reports/bench-cache.json, exits 1 if a target is missed.
 */
import { DEV_ISSUER } from '@coherence/auth';
import { createCoherenceChangedMessage, coherenceScoreSchema } from '@coherence/contracts';
import { createRandom, expectedScoresPath, type ExpectedScoresFile } from '@coherence/fixtures';
import { createGateway, readGatewayConfig } from '@coherence/gateway';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger } from '@coherence/platform';
import { startApplication } from '../../e2e/support/startApplication';
import type autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { allPassed, checkLines } from './support/checks';
import { usageError, parseNumberArgs } from '../commandLine';
import { describeMachine, watchMachine, writeReport } from './support/report';
import { sampleLoad, summarizeLoad, type LoadResult, type LoadSample } from './support/runLoad';
import { withServers } from './support/servers';

const usage = `usage: npm run bench:cache -- [--duration 60] [--rate 200] [--zipf 1.1] [--changes-per-second 1]
  --duration             seconds of load with the cache on, and as many with it off (default 60)
  --rate                 requests per second (default 200)
  --zipf                 skew s: tenant k of 10 is read with weight 1/k^s (default 1.1)
  --changes-per-second   CoherenceChanged messages published while the cache is on (default 1)`;
const {
  duration: durationSeconds,
  rate: ratePerSecond,
  zipf: zipfExponent,
  'changes-per-second': changesPerSecond,
} = parseNumberArgs(usage, { duration: 60, rate: 200, zipf: 1.1, 'changes-per-second': 1 });
if (![durationSeconds, ratePerSecond, zipfExponent].every((n) => Number.isFinite(n) && n > 0) || !(changesPerSecond >= 0))
  usageError(usage);
const SLICE_SECONDS = Math.min(10, durationSeconds);
const TARGET_HIT_RATIO = 0.7;
const TARGET_P95_REDUCTION = 0.2;

const say = (message: string) => console.log(`[bench:cache] ${message}`);
const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
const golden = JSON.parse(readFileSync(expectedScoresPath, 'utf8')) as ExpectedScoresFile;

/** Tenant index by Zipf weight, from a seeded generator so every run asks the same sequence. */
function createZipfPicker(count: number, exponent: number, seed: number): () => number {
  const weights = Array.from({ length: count }, (_, k) => 1 / (k + 1) ** exponent);
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative = weights.map((_, k) => weights.slice(0, k + 1).reduce((a, b) => a + b, 0) / total);
  const random = createRandom(seed);
  return () => {
    const u = random();
    return cumulative.findIndex((edge) => u <= edge);
  };
}

/** Cache outcome counters of the cached gateway, from its admin /metrics. */
async function cacheCounts(gatewayAdminUrl: string): Promise<Record<'hit' | 'miss' | 'bypass', number>> {
  const text = await (await fetch(`${gatewayAdminUrl}/metrics`)).text();
  const count = (outcome: string) =>
    Number(
      new RegExp(`^gateway_cache_requests_total\\{operation="TenantCoherence",outcome="${outcome}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0,
    );
  return { hit: count('hit'), miss: count('miss'), bypass: count('bypass') };
}

const machine = watchMachine();
const exitCode = await withServers({ tempPrefix: 'coherence-bench-cache-', say }, async ({ services, database, defer }) => {
  const channel = `${database.namespace}:coherence.changed`;
  // Generous limiter: this measures the cache, not the limiter.
  const sharedEnv = { GATEWAY_RATE_PER_SECOND: '100000' };
  const app = await startApplication(services.endpoints, database, {
    gatewayEnv: { ...sharedEnv, GATEWAY_CACHE_ENABLED: 'true', COHERENCE_CHANGED_CHANNEL: channel },
  });
  defer(() => app.stop());
  const uncached = await createGateway(
    readGatewayConfig({
      ...app.subgraphUrls,
      ...sharedEnv,
      GATEWAY_DATABASE_URL: database.urls.gateway,
      GATEWAY_REGION: 'us',
      GATEWAY_JWKS: app.jwksPath,
      GATEWAY_TOKEN_ISSUERS: DEV_ISSUER,
      GATEWAY_INTERNAL_SIGNING_KEY: app.internalKeys.privateKeyPath,
      GATEWAY_REDIS_URL: services.endpoints.redisUrl,
      GATEWAY_REDIS_KEY_PREFIX: `${database.namespace}:uncached:`,
      GATEWAY_CACHE_ENABLED: 'false',
    }),
    createLogger('gateway-uncached', 'warn'),
  );
  await uncached.app.listen({ port: 0, host: '127.0.0.1' });
  defer(() => uncached.close());
  const uncachedUrl = `http://127.0.0.1:${(uncached.app.server.address() as AddressInfo).port}`;

  say(`seeding the read model of ${golden.tenants.length} golden tenants`);
  const admin = new pg.Client({ connectionString: database.adminUrl });
  await admin.connect();
  const updatedAt = new Date().toISOString();
  for (const tenant of golden.tenants) {
    await admin.query(
      `INSERT INTO coherence_scores (tenant_id, score, status, agreement, window_iso, sources, as_of)
       VALUES ($1, $2, $3, $4, 'PT24H', $5, $6)`,
      [tenant.tenantId, tenant.score, tenant.status, tenant.agreement, JSON.stringify(tenant.sources), updatedAt],
    );
  }
  await admin.end();
  const tokens = await Promise.all(golden.tenants.map(async (tenant) => (await app.readHeaders(tenant.tenantId)).authorization!));

  const pick = createZipfPicker(golden.tenants.length, zipfExponent, 42);
  const request: autocannon.Request = {
    method: 'POST',
    path: '/graphql',
    setupRequest: (req) => {
      const k = pick();
      return {
        ...req,
        headers: { 'content-type': 'application/json', authorization: tokens[k]! },
        body: JSON.stringify({
          extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } },
          variables: { tenantId: golden.tenants[k]!.tenantId },
        }),
      };
    },
  };
  const measure = (url: string, seconds: number) =>
    sampleLoad({ url, connections: 20, overallRate: ratePerSecond, duration: seconds, requests: [request] });

  // Publishes what the relay would after a recompute of a (Zipf-chosen) tenant: its entries are dropped.
  const publisher = new Redis(services.endpoints.redisUrl);
  defer(async () => publisher.disconnect());
  const pickChanged = createZipfPicker(golden.tenants.length, zipfExponent, 7);
  let changes = 0;
  const publishChange = async () => {
    const tenant = golden.tenants[pickChanged()]!;
    const changedAt = new Date().toISOString();
    const current = coherenceScoreSchema.parse({
      tenantId: tenant.tenantId,
      score: tenant.score,
      status: tenant.status,
      agreement: tenant.agreement,
      window: 'PT24H',
      updatedAt: changedAt,
      sources: tenant.sources,
    });
    const message = createCoherenceChangedMessage({
      change: { tenantId: tenant.tenantId, previous: null, current, changedAt },
      timestamp: changedAt,
      correlationId: `bench-cache-${changes}`,
    });
    await publisher.publish(channel, JSON.stringify(message));
    changes += 1;
  };

  say('warm-up: 5 s on each gateway');
  await measure(uncachedUrl, 5);
  await measure(app.gatewayUrl, 5);

  const off: LoadSample[] = [];
  const on: LoadSample[] = [];
  const before = await cacheCounts(app.adminUrls.gateway);
  const slices = Math.max(1, Math.round(durationSeconds / SLICE_SECONDS));
  for (let slice = 0; slice < slices; slice += 1) {
    say(`slice ${slice + 1}/${slices}: ${SLICE_SECONDS} s cache off, then ${SLICE_SECONDS} s cache on, ${ratePerSecond} req/s`);
    off.push(await measure(uncachedUrl, SLICE_SECONDS));
    const changer = changesPerSecond > 0 ? setInterval(() => void publishChange(), 1_000 / changesPerSecond) : undefined;
    on.push(await measure(app.gatewayUrl, SLICE_SECONDS));
    clearInterval(changer);
  }
  const after = await cacheCounts(app.adminUrls.gateway);
  const hits = after.hit - before.hit;
  const lookups = hits + (after.miss - before.miss) + (after.bypass - before.bypass);
  const hitRatio = lookups === 0 ? 0 : hits / lookups;

  const cacheOff = summarizeLoad(off);
  const cacheOn = summarizeLoad(on);
  const p95Reduction = 1 - cacheOn.latencyMs.p95 / Math.max(cacheOff.latencyMs.p95, 0.01);
  const checks = {
    [`hit ratio ≥ ${TARGET_HIT_RATIO * 100} %`]: hitRatio >= TARGET_HIT_RATIO,
    [`p95 at least ${TARGET_P95_REDUCTION * 100} % lower with the cache`]: p95Reduction >= TARGET_P95_REDUCTION,
    'no errors or non-2xx answers': [cacheOff, cacheOn].every((r) => r.non2xx + r.errors + r.timeouts === 0),
  };
  const report = {
    when: new Date().toISOString(),
    machine: machine.report(),
    setup: {
      ratePerSecond,
      secondsPerMode: slices * SLICE_SECONDS,
      sliceSeconds: SLICE_SECONDS,
      tenants: golden.tenants.length,
      zipfExponent,
      changesPerSecond,
      changesPublished: changes,
      data: 'coherence_scores rows of the golden tenants written from fixtures/golden/expected-scores.json',
      cacheTtlSeconds: 'default (30 ± 10 %)',
    },
    cacheOff,
    cacheOn: { ...cacheOn, hitRatio: Number(hitRatio.toFixed(4)), outcomes: { hit: hits, lookups } },
    p95Reduction: Number(p95Reduction.toFixed(4)),
    checks,
    passed: allPassed(checks),
  };
  writeReport('bench-cache.json', report);

  const line = (name: string, r: LoadResult) =>
    `  ${name}  ${r.requestsPerSecond} req/s  p50 ${r.latencyMs.p50} ms  p95 ${r.latencyMs.p95} ms  p99 ${r.latencyMs.p99} ms  non-2xx ${r.non2xx}  errors ${r.errors + r.timeouts}`;
  console.log(`
cache benchmark (${describeMachine(report.machine)})
${line('cache off', cacheOff)}
${line('cache on ', cacheOn)}  hit ratio ${(hitRatio * 100).toFixed(1)} %  (${changes} CoherenceChanged)
  p95 ${(p95Reduction * 100).toFixed(1)} % lower with the cache
${checkLines(checks)}
  report: reports/bench-cache.json`);
  return report.passed ? 0 : 1;
});
process.exit(exitCode);
