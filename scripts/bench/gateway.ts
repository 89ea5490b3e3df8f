/**
 * `npm run bench:gateway`: what this gateway costs against plain federation
 * gateways, in one run on this machine. Not a test: it prints a table,
 * writes reports/bench-gateway.json, and exits 1 only when a gateway does not
 * answer the operation with data, or the traced one exports no span.
 *
 * The same read, `TenantCoherence` for one registered tenant with a score,
 * goes through
 *   (a) this gateway (`gateway/src/main.ts`) with everything on: JWT,
 *       persisted operations, OPA policy, the per-tenant limiter (its rate set
 *       far above the load, so it decides every request but never refuses),
 *       and the response cache — once with the cache on, once off, both
 *       with OpenTelemetry disabled (OTEL_SDK_DISABLED=true), and once more
 *       with the cache on and tracing on at the default sampling, exporting
 *       over OTLP/HTTP to a receiver that reads every export and keeps
 *       nothing (support/otlpSink.ts), as a collector on other nodes would:
 *       tracing's cost is that pair's throughput ratio and the ratio of the
 *       gateway process's own CPU time per request
 *       (docs/adr/0020-traces.md; target ≤ 5 %);
 *   (b) a plain `@apollo/gateway` in `@apollo/server`, no plugins;
 *   (c) Hive Gateway's runtime, default settings (which include sharing one
 *       subgraph call among identical ones in flight — this load is one
 *       identical read, so that default matters; it is left on, as shipped);
 * over the same subgraph servers (ingest, coherence and comms, each a process
 * of its own under NODE_ENV=production, as deployed) and the same supergraph;
 * e2e/support's `startApplication` in this process only sets the data up. (a) gets the persisted id and a
 * token; (b) and (c) know no manifest and get the manifest's text of the
 * operation (the same text (a) runs). Every gateway is its own child process;
 * all are started, checked to answer with data and warmed up, then loaded by
 * autocannon with fixed connections, one gateway at a time: the measured time
 * is cut into rounds, each loading every gateway in turn for the same slice,
 * so that other work on a shared machine falls on all of them alike. Every
 * response of the measured runs is checked to carry the tenant's data.
 * Ratios are against (b). Each gateway's CPU per request is its own process's;
 * "machine" is every core's busy time over its requests (the subgraphs and
 * autocannon in this process, Postgres and Redis included): what one read
 * costs the whole machine, gateway and all it sets off.
 *
 * A second load, where sharing identical calls cannot help: the same read
 * spread over `--tenants` registered tenants (1,000 by default), each with a
 * score and a token of its own, taken in turn so that no two reads in flight
 * are alike; this gateway runs it with the cache off (every read a miss), and
 * (b) and (c) are told each read's tenant in a header, to send the subgraphs
 * a token for it.
 *
 * What each security step costs: the cache-off gateway's
 * `gateway_step_seconds{step}` after both loads, the mean time per request of
 * each step's check (authentication, API client, persisted id, tenant,
 * policy, kill switch, limiter…), measured in place since none may be
 * switched off in production.
 */
import { supergraphPath } from '@coherence/gateway';
import { costsPath, manifestPath, signManifest } from '@coherence/persisted-queries';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { freePort } from '@coherence/devservices';
import { createPgPool } from '@coherence/platform';
import { startApplication } from '../../e2e/support/startApplication';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from '@coherence/devservices/managedProcess';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { usageError, parseNumberArgs } from '../commandLine';
import { describeMachine, productionNode, repoRoot, watchMachine, writeReport } from './support/report';
import { machineBusySeconds, processCpuSeconds } from './support/processUsage';
import { BENCH_ISSUER, productionTrust } from './support/productionTrust';
import { sampleLoad, summarizeLoad, type LoadResult, type LoadSample } from './support/runLoad';
import { withServers } from './support/servers';

const usage = `usage: npm run bench:gateway -- [--duration 30] [--rounds 5] [--connections 10] [--warmup 5] [--tenants 1000]

  --duration <s>     measured load per gateway, seconds, in total (default 30)
  --rounds <n>       the measured time is cut into this many rounds; each round loads
                     every gateway in turn for duration/rounds seconds (default 5)
  --connections <n>  concurrent connections, the same for every gateway (default 10)
  --warmup <s>       unmeasured load on each gateway before the rounds, seconds (default 5)
  --tenants <n>      tenants the second load spreads its reads over (default 1000)`;
const {
  duration: durationSeconds,
  rounds,
  connections,
  warmup: warmupSeconds,
  tenants: spreadTenantCount,
} = parseNumberArgs(usage, { duration: 30, rounds: 5, connections: 10, warmup: 5, tenants: 1000 });
if (![durationSeconds, rounds, connections, warmupSeconds, spreadTenantCount].every((n) => Number.isInteger(n) && n > 0)) usageError(usage);

const say = (message: string) => console.log(`[bench:gateway] ${message}`);
const operation = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!;
const installedVersion = (name: string) =>
  (JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

interface Gateway {
  key: string;
  label: string;
  /** How the operation is sent: by persisted id with a token, or as text. */
  request: 'persisted id + JWT' | 'query text';
  /** Serves `gateway_cache_requests_total` on its admin /metrics (this gateway), read after the run as evidence of what the cache did. */
  hasCacheMetrics: boolean;
  /** `adminPort`: where this gateway serves /metrics (the baselines have no admin listener). */
  start(port: number, adminPort: number, logFile: string): ManagedProcess;
}
interface RunningGateway {
  gateway: Gateway;
  child: ManagedProcess;
  baseUrl: string;
  adminUrl: string;
  samples: LoadSample[];
  /** CPU seconds the gateway process used while it was loaded (all rounds). */
  cpuSeconds: number;
  /** CPU seconds the whole machine used meanwhile: the gateway, the subgraphs and autocannon (this process), Postgres, Redis. */
  machineCpuSeconds: number;
}
type Measured = LoadResult &
  Pick<Gateway, 'key' | 'label' | 'request'> & {
    cpuMsPerRequest: number;
    machineCpuMsPerRequest: number;
    cacheOutcomes?: Record<string, number>;
  };

/** `gateway_cache_requests_total` by outcome (hit, miss, bypass), summed over operations, from the Prometheus text format. */
async function cacheOutcomes(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const outcomes: Record<string, number> = {};
  for (const [, outcome, value] of text.matchAll(/^gateway_cache_requests_total\{[^}]*outcome="(\w+)"[^}]*\} (\S+)$/gm)) {
    outcomes[outcome!] = (outcomes[outcome!] ?? 0) + Number(value);
  }
  return outcomes;
}

/**
 * What each pipeline step took per request in a gateway, from its `gateway_step_seconds` (Prometheus text format):
 * the security steps' cost measured in place, since none may be switched off in production.
 */
async function stepCosts(metricsUrl: string): Promise<{ step: string; calls: number; meanMs: number }[]> {
  const text = await (await fetch(metricsUrl)).text();
  const read = (suffix: string) =>
    new Map(
      [...text.matchAll(new RegExp(`^gateway_step_seconds_${suffix}\\{step="([^"]+)"\\} (\\S+)$`, 'gm'))].map(
        ([, step, value]) => [step!, Number(value)] as const,
      ),
    );
  const [sums, counts] = [read('sum'), read('count')];
  return [...counts].map(([step, calls]) => ({
    step,
    calls,
    meanMs: Number(((1_000 * (sums.get(step) ?? 0)) / Math.max(calls, 1)).toFixed(4)),
  }));
}

/** The subgraphs' supergraph with their real URLs in place of the placeholders, for the gateways that route by it. */
function supergraphWithUrls(subgraphUrls: Record<string, string>): string {
  return readFileSync(supergraphPath, 'utf8').replace(
    /@join__graph\(name: "(\w+)", url: "[^"]*"\)/g,
    (_match, name: string) => `@join__graph(name: "${name}", url: "${subgraphUrls[`SUBGRAPH_${name.toUpperCase()}_URL`]}")`,
  );
}

/** The gateways the spread load runs on: the two baselines and this gateway with every read a miss. */
const SPREAD_KEYS = ['apollo', 'hive', 'coherence-cache-off'];

/** The API client the bench's read tokens name, registered for every tenant it reads. */
const BENCH_CLIENT = 'bench-reader';

const machine = watchMachine();
const exitCode = await withServers({ tempPrefix: 'coherence-bench-gateway-', say }, async ({ rootDir, services, database, defer }) => {
  const app = await startApplication(services.endpoints, database);
  defer(() => app.stop());
  // The read model row the operation reads: a registered tenant with a few signals, projected by the relay.
  const tenantId = `${database.namespace}-bench`;
  // The gateways run with NODE_ENV=production: the bench trusts the dev keys under names and an issuer of its own, and
  // signs copies of the policy bundle and the manifest with a key of its own.
  const trust = await productionTrust(rootDir);
  const benchJwks = trust.renamed(app.jwksPath, 'bench-jwks.json');
  const benchInternalKey = trust.renamed(app.internalKeys.privateKeyPath, 'bench-internal-signing-key.jwk.json');
  const benchManifest = join(rootDir, 'manifest', 'manifest.json');
  mkdirSync(join(rootDir, 'manifest'));
  copyFileSync(manifestPath, benchManifest);
  copyFileSync(costsPath, join(rootDir, 'manifest', 'costs.json'));
  await signManifest(benchManifest, trust.artifactPrivateKey);
  await app.registerTenant(tenantId);
  // Under NODE_ENV=production a token's client_id must name an enabled API client of its tenant (ADR 0031).
  const readTokenOf = (tenant: string) =>
    app.mintToken({ tenant, scopes: ['coherence:read:self'], issuer: BENCH_ISSUER, clientId: BENCH_CLIENT });
  const readHeaders = { authorization: `Bearer ${await readTokenOf(tenantId)}` };
  const ts = new Date(Date.now() - 10 * 60_000).toISOString();
  /** A few signals for the tenant (from `sources`), so that its read has a score. */
  const scoreTenant = async (tenant: string, sources: string[]) => {
    const signals = sources.map((source, i) => ({
      tenantId: tenant,
      source,
      signalId: `bench-${i}`,
      ts,
      type: 'latency',
      value: 0.6 + i / 10,
    }));
    const pushed = await fetch(`${app.ingestUrl}/v1/signals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await app.writeHeaders(tenant)) },
      body: JSON.stringify({ signals }),
    });
    if (pushed.status !== 202) throw new Error(`ingest answered ${pushed.status}: ${await pushed.text()}`);
  };
  await scoreTenant(tenantId, ['checkout', 'search', 'billing']);
  // The spread load's tenants, each registered (writeHeaders does) with a score and a token of its own.
  say(`registering ${spreadTenantCount} tenants for the spread load, each with a score`);
  const spreadTenants = Array.from({ length: spreadTenantCount }, (_, i) => `${database.namespace}-spread-${i}`);
  const spreadTokens = new Map<string, string>();
  for (let start = 0; start < spreadTenants.length; start += 25)
    await Promise.all(
      spreadTenants.slice(start, start + 25).map(async (tenant) => {
        await scoreTenant(tenant, ['checkout']);
        spreadTokens.set(tenant, await readTokenOf(tenant));
      }),
    );
  await app.relay.drainAll();
  const admin = createPgPool(database.adminUrl, { max: 1 });
  try {
    await admin.query(`INSERT INTO api_clients (tenant_id, client_id, scopes) SELECT unnest($1::text[]), $2, '{coherence:read:self}'`, [
      [tenantId, ...spreadTenants],
      BENCH_CLIENT,
    ]);
  } finally {
    await admin.end();
  }

  const childEnv = { ...process.env, NODE_ENV: 'production' };
  // Every gateway and subgraph runs on the Node.js the production image runs (docs/adr/0034-node-24.md), whatever runs the bench.
  const { binary: nodeBinary, version: nodeVersion } = await productionNode();
  say(`gateways and subgraphs run on Node ${nodeVersion}`);
  const spawnNode = (name: string, script: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = childEnv) =>
    spawnManaged({
      name,
      command: nodeBinary,
      args: ['--import', 'tsx', join(repoRoot, script), ...args],
      cwd: repoRoot,
      env,
      logFile,
    });
  // The subgraphs the gateways call, each a process of its own as deployed. In this process they shared one thread
  // with autocannon, and under the spread load (no call shared) that thread, at about 80 % busy whichever gateway was
  // loaded, set every gateway's pace (docs/adr/0036-remembered-decisions-and-batched-limiter.md).
  const benchInternalJwks = trust.renamed(app.internalKeys.jwksPath, 'bench-internal-jwks.json');
  const startSubgraph = async (name: string, script: string, listener: string, env: Record<string, string>) => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const adminVariable = `${name.toUpperCase()}_ADMIN_PORT`;
    const child = spawnNode(`subgraph-${name}`, script, [], join(services.logDir, `subgraph-${name}.log`), {
      ...childEnv,
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      SUBGRAPH_INTERNAL_JWKS: benchInternalJwks,
      [listener]: `${port}`,
      [adminVariable]: `${adminPort}`,
      ...env,
    });
    defer(() => child.stop());
    await waitUntilHealthy(name, child.logFile, async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok, 60_000, child);
    return `http://127.0.0.1:${port}/graphql`;
  };
  say('starting the subgraphs (ingest, coherence, comms), each a process of its own');
  const subgraphUrls = {
    SUBGRAPH_INGEST_URL: await startSubgraph('ingest', 'subgraphs/ingest/src/main.ts', 'INGEST_SUBGRAPH_PORT', {
      INGEST_PORT: `${await freePort()}`,
      INGEST_DATABASE_URL: database.urls.ingest,
      INGEST_REGION: 'us',
      INGEST_JWKS: benchJwks,
      INGEST_TOKEN_ISSUERS: BENCH_ISSUER,
      INGEST_POLICY_BUNDLE_DIR: trust.bundleDir,
      INGEST_POLICY_PUBLIC_KEY: trust.artifactPublicKey,
      INGEST_REDIS_URL: services.endpoints.redisUrl,
    }),
    SUBGRAPH_COHERENCE_URL: await startSubgraph('coherence', 'subgraphs/coherence/src/main.ts', 'COHERENCE_PORT', {
      COHERENCE_DATABASE_URL: database.urls.coherence,
      NEO4J_URL: services.endpoints.neo4jBoltUrl,
    }),
    SUBGRAPH_COMMS_URL: await startSubgraph('comms', 'subgraphs/comms/src/main.ts', 'COMMS_PORT', {
      COMMS_INBOUND_PORT: `${await freePort()}`,
      COMMS_DATABASE_URL: database.urls.comms,
      COMMS_ADMIN_DATABASE_URL: database.urls.commsAdmin,
    }),
  };
  const supergraphFile = join(rootDir, 'supergraph.graphql');
  writeFileSync(supergraphFile, supergraphWithUrls(subgraphUrls));

  // Tracing on: spans of the default sampling (parent-based, 0.15) exported over OTLP/HTTP to a receiver that keeps
  // nothing. A trace backend on these two cores (a Jaeger) took more CPU from the traced gateway than tracing itself
  // costs it; deployed, the collector runs elsewhere (helm: tracing.otlpEndpoint; docs/adr/0020-traces.md).
  const sinkUrl = `http://127.0.0.1:${await freePort()}`;
  const sink = spawnNode(
    'otlp-sink',
    'scripts/bench/support/otlpSink.ts',
    ['--port', new URL(sinkUrl).port],
    join(services.logDir, 'otlp-sink.log'),
  );
  defer(() => sink.stop());
  const sinkStats = async () => (await (await fetch(`${sinkUrl}/stats`)).json()) as { exports: number; bytes: number };
  await waitUntilHealthy('otlp-sink', sink.logFile, async () => (await fetch(`${sinkUrl}/stats`)).ok, 30_000, sink);
  const tracingEnv = (traced: boolean) => (traced ? { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl } : { OTEL_SDK_DISABLED: 'true' });
  const coherenceGateway = (cacheEnabled: boolean, traced = false): Gateway => ({
    key: `coherence-cache-${cacheEnabled ? 'on' : 'off'}${traced ? '-traced' : ''}`,
    label: `this gateway, cache ${cacheEnabled ? 'on' : 'off'}${traced ? ', traced' : ''}`,
    request: 'persisted id + JWT',
    hasCacheMetrics: true,
    start: (port, adminPort, logFile) =>
      spawnNode('gateway', 'gateway/src/main.ts', [], logFile, {
        ...childEnv,
        ...tracingEnv(traced),
        LOG_LEVEL: 'warn',
        GATEWAY_PORT: `${port}`,
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_ADMIN_PORT: `${adminPort}`,
        ...subgraphUrls,
        GATEWAY_DATABASE_URL: database.urls.gateway,
        GATEWAY_REGION: 'us',
        GATEWAY_JWKS: benchJwks,
        GATEWAY_TOKEN_ISSUERS: BENCH_ISSUER,
        GATEWAY_INTERNAL_SIGNING_KEY: benchInternalKey,
        GATEWAY_POLICY_BUNDLE_DIR: trust.bundleDir,
        GATEWAY_POLICY_PUBLIC_KEY: trust.artifactPublicKey,
        GATEWAY_MANIFEST_PATH: benchManifest,
        GATEWAY_MANIFEST_PUBLIC_KEY: trust.artifactPublicKey,
        GATEWAY_REDIS_URL: services.endpoints.redisUrl,
        GATEWAY_REDIS_KEY_PREFIX: `${database.namespace}:${cacheEnabled ? 'cache-on' : 'cache-off'}${traced ? '-traced' : ''}:`,
        GATEWAY_CACHE_ENABLED: `${cacheEnabled}`,
        // The limiter stays on (every request pays for its decision) but never refuses this load.
        GATEWAY_RATE_PER_SECOND: '1000000',
        GATEWAY_RATE_BURST_SECONDS: '60',
      }),
  });
  const baseline = (kind: 'apollo' | 'hive'): Gateway => ({
    key: kind,
    label:
      kind === 'apollo'
        ? `plain @apollo/gateway ${installedVersion('@apollo/gateway')}`
        : `Hive Gateway ${installedVersion('@graphql-hive/gateway')}`,
    request: 'query text',
    hasCacheMetrics: false,
    start: (port, _adminPort, logFile) =>
      spawnNode(
        kind,
        'scripts/bench/support/baselineGateway.ts',
        [
          '--kind',
          kind,
          '--supergraph',
          supergraphFile,
          '--port',
          `${port}`,
          '--internal-key',
          app.internalKeys.privateKeyPath,
          '--tenant',
          tenantId,
        ],
        logFile,
      ),
  });
  // Tracing's cost is read off the cache-on pair: the same gateway with the SDK disabled and with it exporting.
  const gateways = [baseline('apollo'), baseline('hive'), coherenceGateway(true), coherenceGateway(false), coherenceGateway(true, true)];

  const bodyFor = (gateway: Gateway, tenant = tenantId) =>
    JSON.stringify(
      gateway.request === 'query text'
        ? { query: operation.body, operationName: operation.name, variables: { tenantId: tenant } }
        : { extensions: { persistedQuery: { version: 1, sha256Hash: operation.id } }, variables: { tenantId: tenant } },
    );
  // Every gateway gets the same headers; the baselines ignore the token.
  const headers = { 'content-type': 'application/json', ...readHeaders };
  const dataPrefix = `{"data":{"tenantCoherence":{"tenantId":"${tenantId}"`;
  const carriesData = (body: string) => body.startsWith(dataPrefix) && !body.includes('"errors":');
  const spreadPrefix = `{"data":{"tenantCoherence":{"tenantId":"${database.namespace}-spread-`;
  const carriesSpreadData = (body: string) => body.startsWith(spreadPrefix) && !body.includes('"errors":');

  const results: Measured[] = [];
  let securitySteps: Awaited<ReturnType<typeof stepCosts>> = [];
  // All gateways run side by side but only one is loaded at a time; the measured time is cut into rounds, each
  // loading every gateway in turn (in a rotating order), so that whatever else the machine does falls on all alike.
  const running: RunningGateway[] = [];
  try {
    for (const gateway of gateways) {
      const [port, adminPort] = [await freePort(), await freePort()];
      const child = gateway.start(port, adminPort, join(services.logDir, `${gateway.key}.log`));
      running.push({
        gateway,
        child,
        baseUrl: `http://127.0.0.1:${port}`,
        adminUrl: `http://127.0.0.1:${adminPort}`,
        samples: [],
        cpuSeconds: 0,
        machineCpuSeconds: 0,
      });
    }
    for (const { gateway, child, baseUrl } of running) {
      say(`${gateway.label}: starting; it must answer the operation with data`);
      const body = bodyFor(gateway);
      await waitUntilHealthy(
        gateway.key,
        child.logFile,
        async () => {
          const response = await fetch(`${baseUrl}/graphql`, { method: 'POST', headers, body });
          const text = await response.text();
          if (response.status !== 200 || !carriesData(text)) throw new Error(`answered ${response.status}: ${text.slice(0, 500)}`);
          return true;
        },
        60_000,
        child,
      );
    }
    // The spread load takes the tenants in turn across all connections: no two reads in flight are for the same tenant.
    let spreadNext = 0;
    const loadSpread = ({ gateway, baseUrl }: RunningGateway, seconds: number) =>
      sampleLoad({
        url: `${baseUrl}/graphql`,
        method: 'POST',
        connections,
        duration: seconds,
        requests: [
          {
            setupRequest: (request) => {
              const tenant = spreadTenants[spreadNext++ % spreadTenants.length]!;
              return {
                ...request,
                headers: {
                  'content-type': 'application/json',
                  authorization: `Bearer ${spreadTokens.get(tenant)}`,
                  'x-bench-tenant': tenant,
                },
                body: bodyFor(gateway, tenant),
              };
            },
          },
        ],
        verifyBody: (received: unknown) => carriesSpreadData(String(received)),
      });
    const loadOn = ({ gateway, baseUrl }: RunningGateway, seconds: number) =>
      sampleLoad({
        url: `${baseUrl}/graphql`,
        method: 'POST',
        headers,
        body: bodyFor(gateway),
        connections,
        duration: seconds,
        verifyBody: (received: unknown) => carriesData(String(received)),
      });
    type Load = (target: RunningGateway, seconds: number) => Promise<LoadSample>;
    /** Warm-up, then the measured rounds, each loading every target in turn (in a rotating order). */
    const measure = async (what: string, targets: RunningGateway[], load: Load) => {
      for (const target of targets) {
        say(`${what}, ${target.gateway.label}: warm-up ${warmupSeconds} s`);
        await load(target, warmupSeconds);
      }
      const sliceSeconds = durationSeconds / rounds;
      for (let round = 0; round < rounds; round += 1) {
        say(`${what}: round ${round + 1} of ${rounds}: ${sliceSeconds} s per gateway at ${connections} connections`);
        for (let i = 0; i < targets.length; i += 1) {
          const target = targets[(round + i) % targets.length]!;
          const [cpuBefore, machineBefore] = [processCpuSeconds(target.child.pid), machineBusySeconds()];
          target.samples.push(await load(target, sliceSeconds));
          target.cpuSeconds += processCpuSeconds(target.child.pid) - cpuBefore;
          target.machineCpuSeconds += machineBusySeconds() - machineBefore;
        }
      }
    };
    await measure('one tenant', running, loadOn);
    /** CPU milliseconds per request, from `seconds` over the requests of `load`. */
    const perRequest = (seconds: number, load: LoadResult) => Number(((1000 * seconds) / Math.max(load.requests, 1)).toFixed(3));
    for (const { gateway, adminUrl, samples, cpuSeconds, machineCpuSeconds } of running) {
      const load = summarizeLoad(samples);
      results.push({
        key: gateway.key,
        label: gateway.label,
        request: gateway.request,
        ...load,
        cpuMsPerRequest: perRequest(cpuSeconds, load),
        machineCpuMsPerRequest: perRequest(machineCpuSeconds, load),
        ...(gateway.hasCacheMetrics ? { cacheOutcomes: await cacheOutcomes(`${adminUrl}/metrics`) } : {}),
      });
    }
    // The spread load: the baselines and this gateway with the cache off (with it on, reads after the first round would hit).
    const spread = running
      .filter(({ gateway }) => SPREAD_KEYS.includes(gateway.key))
      .map((target) => ({ ...target, samples: [], cpuSeconds: 0, machineCpuSeconds: 0 }));
    await measure(`${spreadTenantCount} tenants`, spread, loadSpread);
    for (const { gateway, samples, cpuSeconds, machineCpuSeconds } of spread) {
      const load = summarizeLoad(samples);
      results.push({
        key: `spread-${gateway.key}`,
        label: `${gateway.label}, ${spreadTenantCount} tenants`,
        request: gateway.request,
        ...load,
        cpuMsPerRequest: perRequest(cpuSeconds, load),
        machineCpuMsPerRequest: perRequest(machineCpuSeconds, load),
      });
    }
    // The cache-off gateway ran every step of every read of both loads (with the cache on, hits skip nothing before it).
    const cacheOff = running.find(({ gateway }) => gateway.key === 'coherence-cache-off')!;
    securitySteps = await stepCosts(`${cacheOff.adminUrl}/metrics`);
  } finally {
    await Promise.all(running.map(({ child }) => child.stop()));
  }

  const apollo = results.find((r) => r.key === 'apollo')!;
  const ratio = (a: number, b: number) => Number((a / Math.max(b, 0.01)).toFixed(2));
  const rows = results.map((r) => ({
    ...r,
    failed: r.non2xx + r.errors + r.timeouts + r.mismatches,
    vsPlainApollo: {
      requestsPerSecond: ratio(r.requestsPerSecond, apollo.requestsPerSecond),
      p95: ratio(r.latencyMs.p95, apollo.latencyMs.p95),
    },
  }));
  const exported = await sinkStats();
  const passed = rows.every((r) => r.failed === 0 && r.requests > 0) && exported.exports > 0;
  const untraced = results.find((r) => r.key === 'coherence-cache-on')!;
  const traced = results.find((r) => r.key === 'coherence-cache-on-traced')!;
  const tracing = {
    sampling: 'parentbased_traceidratio 0.15 (the default), exported over OTLP/HTTP (protobuf) to a receiver that keeps nothing',
    exported,
    off: { requestsPerSecond: untraced.requestsPerSecond, p95: untraced.latencyMs.p95 },
    on: { requestsPerSecond: traced.requestsPerSecond, p95: traced.latencyMs.p95 },
    throughputRatio: Number((traced.requestsPerSecond / Math.max(untraced.requestsPerSecond, 0.01)).toFixed(3)),
    costPercent: Number((100 * (1 - traced.requestsPerSecond / Math.max(untraced.requestsPerSecond, 0.01))).toFixed(1)),
    // The gateway process's own CPU time per request, off against on: tracing's cost without the load generator's noise.
    cpuMsPerRequest: { off: untraced.cpuMsPerRequest, on: traced.cpuMsPerRequest },
    cpuCostPercent: Number((100 * (1 - untraced.cpuMsPerRequest / Math.max(traced.cpuMsPerRequest, 0.001))).toFixed(1)),
    targetCostPercent: 5,
  };
  const report = {
    when: new Date().toISOString(),
    machine: machine.report(),
    setup: {
      operation: { name: operation.name, id: operation.id },
      connections,
      durationSeconds,
      rounds,
      warmupSeconds,
      gateways: `each its own child process (node --import tsx, NODE_ENV=production) on Node ${nodeVersion}, all running, loaded one at a time`,
      subgraphs: 'ingest, coherence and comms, each its own child process (NODE_ENV=production), shared by every gateway',
      limiter: 'on, GATEWAY_RATE_PER_SECOND=1000000 so it never refuses',
      flags: 'bootstrap defaults (v24.coherence on, region-routing off), no Unleash server',
      spreadTenants: spreadTenantCount,
      spread: `spread-* results: the read spread over ${spreadTenantCount} tenants in turn, no two in flight alike; this gateway with the cache off`,
    },
    results: rows,
    securitySteps,
    tracing,
    passed,
  };
  writeReport('bench-gateway.json', report);

  const pad = (text: string | number, width: number) => String(text).padEnd(width);
  console.log(`
gateway benchmark: ${operation.name}, ${connections} connections, ${durationSeconds} s each in ${rounds} rounds after ${warmupSeconds} s warm-up
(${describeMachine(report.machine)}; the gateways on Node ${nodeVersion})

  ${pad('gateway', 46)}${pad('req/s', 8)}${pad('p50 ms', 9)}${pad('p95 ms', 9)}${pad('p99 ms', 9)}${pad('failed', 8)}${pad('CPU ms/req', 12)}${pad('machine', 9)}req/s ÷ Apollo  p95 ÷ Apollo
${rows
  .map(
    (r) =>
      `  ${pad(r.label, 46)}${pad(r.requestsPerSecond, 8)}${pad(r.latencyMs.p50, 9)}${pad(r.latencyMs.p95, 9)}${pad(r.latencyMs.p99, 9)}` +
      `${pad(r.failed, 8)}${pad(r.cpuMsPerRequest, 12)}${pad(r.machineCpuMsPerRequest, 9)}${pad(r.vsPlainApollo.requestsPerSecond, 15)}${r.vsPlainApollo.p95}`,
  )
  .join('\n')}

  tracing (cache on, same run): off ${tracing.off.requestsPerSecond} req/s (p95 ${tracing.off.p95} ms), on ${tracing.on.requestsPerSecond} req/s (p95 ${tracing.on.p95} ms)
  → × ${tracing.throughputRatio} throughput, cost ${tracing.costPercent} % (target ≤ ${tracing.targetCostPercent} %); ${exported.exports} OTLP exports, ${(exported.bytes / 1024).toFixed(0)} KiB
  gateway CPU per request: off ${tracing.cpuMsPerRequest.off} ms, on ${tracing.cpuMsPerRequest.on} ms → cost ${tracing.cpuCostPercent} %

  each step of this gateway, cache off, both loads (mean time in the step per request, refused or not; gateway_step_seconds):
${securitySteps.map(({ step, calls, meanMs }) => `    ${pad(step, 22)}${pad(`${meanMs} ms`, 14)}${calls} requests`).join('\n')}
  report: reports/bench-gateway.json`);
  if (exported.exports === 0) console.error('FAIL: the traced gateway exported no span');
  if (!passed) console.error('FAIL: a gateway answered something other than the data (non-2xx, errors or a mismatched body)');
  return passed ? 0 : 1;
});
process.exit(exitCode);
