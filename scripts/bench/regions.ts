/**
 * `npm run bench:regions`: what `region-routing` buys an EU gateway, on
 * loopback with simulated WAN latency. Not a test: it prints a summary,
 * writes reports/bench-regions.json, and exits 1 only if the target is missed.
 *
 * Topology: the gateway (GATEWAY_REGION=eu) and the coherence subgraph run in
 * "eu"; the Postgres primary is in another region, so the subgraph reaches it
 * through a TCP proxy that holds every chunk --wan-ms in each direction; the
 * streaming replica tagged `eu` is local (direct). EU-tagged tenants read
 * `tenantCoherence` one request at a time (the response cache is off, so
 * every read reaches the read model), in alternating rounds with
 * `region-routing` off (reads go to the far primary) and on (the near
 * replica), the flag flipped on the run's real Unleash server. Target: the
 * median with it on at least 25% lower than with it off.
 *
 * Options: --requests <n> per round and mode (default 200), --rounds <n>
 * (default 3), --wan-ms <ms> one-way delay on the cross-region link (default 20).
 */
import { createPgPool } from '@coherence/platform';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createUnleashAdmin, startFaultProxy, unleashClientEnv } from '@coherence/devservices';
import { startApplication } from '../../e2e/support/startApplication';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { verdict } from './support/checks';
import { usageError, parseNumberArgs } from '../commandLine';
import { writeReport } from './support/report';
import { withServers } from './support/servers';

const usage = `usage: npm run bench:regions [-- --requests N] [--rounds N] [--wan-ms MS]

  --requests N  sequential reads per round and mode (default 200)
  --rounds N    off/on rounds, alternating (default 3)
  --wan-ms MS   one-way delay on the link to the far primary (default 20)`;
const { requests: requestsPerRound, rounds, 'wan-ms': wanMs } = parseNumberArgs(usage, { requests: 200, rounds: 3, 'wan-ms': 20 });
if (![requestsPerRound, rounds, wanMs].every((n) => Number.isFinite(n) && n >= 0) || requestsPerRound < 1 || rounds < 1) usageError(usage);
const TARGET_REDUCTION = 0.25;
const TENANTS = 5;
const REGION = 'eu';

const quantile = (sorted: readonly number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const summarize = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (ms: number) => Number(ms.toFixed(2));
  return {
    samples: sorted.length,
    medianMs: round(quantile(sorted, 0.5)),
    p95Ms: round(quantile(sorted, 0.95)),
    maxMs: round(sorted.at(-1)!),
  };
};

console.log('starting the servers (Postgres primary + replica, Redis, Neo4j, Kafka, Unleash)…');
const exitCode = await withServers(
  { tempPrefix: 'coherence-bench-regions-', replicaRegion: REGION },
  async ({ services, database, defer }) => {
    const { endpoints } = services;
    const { host, port, replicaPort } = endpoints.postgres;
    const farPrimary = await startFaultProxy({ target: { host, port }, latencyMs: wanMs });
    defer(() => farPrimary.close());
    const unleash = createUnleashAdmin(endpoints.unleash);
    await unleash.setFlag('region-routing', false);
    const app = await startApplication(endpoints, database, {
      gatewayEnv: {
        ...unleashClientEnv(endpoints.unleash, 250),
        GATEWAY_REGION: REGION,
        GATEWAY_CACHE_ENABLED: 'false',
        // The limiter must not shape a single sequential client.
        GATEWAY_RATE_PER_SECOND: '100000',
      },
      coherenceEnv: {
        COHERENCE_DATABASE_URL: `postgres://coherence_app@127.0.0.1:${farPrimary.port}/${database.name}`,
        COHERENCE_READ_REPLICAS: `${REGION}=postgres://coherence_app@${host}:${replicaPort}/${database.name}`,
      },
    });
    defer(() => app.stop());
    const admin = createPgPool(database.adminUrl, { max: 2 });
    const replica = createPgPool(`postgres://postgres@${host}:${replicaPort}/${database.name}`, { max: 1 });
    defer(() => Promise.all([admin.end(), replica.end()]));
    const tenants = Array.from({ length: TENANTS }, (_, i) => `${database.namespace}-eu-${i}`);
    const bodies = new Map<string, string>();
    const headers = new Map<string, Record<string, string>>();
    const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
    for (const [i, tenantId] of tenants.entries()) {
      await app.registerTenant(tenantId, REGION);
      await admin.query(
        `INSERT INTO coherence_scores (tenant_id, score, status, agreement, window_iso, sources, as_of)
         VALUES ($1, $2, 'HEALTHY', 1, 'PT24H', '[]', now())`,
        [tenantId, 0.8 + i / 100],
      );
      const token = await app.mintToken({ tenant: tenantId, scopes: ['coherence:read:self'], residency: [REGION] });
      headers.set(tenantId, { 'content-type': 'application/json', authorization: `Bearer ${token}` });
      bodies.set(
        tenantId,
        JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } }),
      );
    }
    // The replica must hold the rows before it is read.
    for (;;) {
      const { rows } = await replica.query<{ count: string }>('SELECT count(*) FROM coherence_scores');
      if (Number(rows[0]!.count) === TENANTS) break;
      await sleep(50);
    }

    const read = async (tenantId: string): Promise<number> => {
      const startedAt = performance.now();
      const response = await fetch(`${app.gatewayUrl}/graphql`, {
        method: 'POST',
        headers: headers.get(tenantId)!,
        body: bodies.get(tenantId)!,
      });
      const text = await response.text();
      const elapsed = performance.now() - startedAt;
      if (response.status !== 200 || !text.includes('"score":0.8'))
        throw new Error(`gateway answered ${response.status}: ${text.slice(0, 300)}`);
      return elapsed;
    };
    const readsByTarget = async (): Promise<Record<string, number>> => {
      const text = await (await fetch(`${app.adminUrls.coherence}/metrics`)).text();
      return Object.fromEntries(
        [...text.matchAll(/^coherence_read_model_reads_total\{target="([^"]+)"\} (\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]),
      );
    };
    const setRouting = async (on: boolean) => {
      await unleash.setFlag('region-routing', on);
      // Until the gateway applies it (its flag gauge says so).
      const series = `feature_flag_enabled{flag="region-routing"} ${on ? 1 : 0}`;
      while (!(await (await fetch(`${app.adminUrls.gateway}/metrics`)).text()).includes(series)) await sleep(50);
    };

    // Warm-up: connections in both pools, JIT, the tenant cache.
    for (const on of [false, true]) {
      await setRouting(on);
      for (let i = 0; i < 40; i += 1) await read(tenants[i % TENANTS]!);
    }
    const samples = { off: [] as number[], on: [] as number[] };
    for (let round = 0; round < rounds; round += 1) {
      for (const mode of ['off', 'on'] as const) {
        await setRouting(mode === 'on');
        const before = await readsByTarget();
        for (let i = 0; i < requestsPerRound; i += 1) samples[mode].push(await read(tenants[i % TENANTS]!));
        const after = await readsByTarget();
        // Each mode must really have read where it claims to.
        const target = mode === 'on' ? REGION : 'primary';
        const served = (after[target] ?? 0) - (before[target] ?? 0);
        if (served < requestsPerRound)
          throw new Error(`round ${round} ${mode}: only ${served} of ${requestsPerRound} reads went to ${target}`);
      }
      console.log(`round ${round + 1}/${rounds} done`);
    }

    const off = summarize(samples.off);
    const on = summarize(samples.on);
    const reduction = 1 - on.medianMs / off.medianMs;
    const pass = reduction >= TARGET_REDUCTION;
    const report = {
      benchmark: 'bench:regions',
      measuredAt: new Date().toISOString(),
      machine: { cpus: cpus().length, loadAverage: loadavg().map((n) => Number(n.toFixed(2))) },
      setup: {
        gatewayRegion: REGION,
        tenants: TENANTS,
        wanDelayMsEachWay: wanMs,
        requestsPerRoundAndMode: requestsPerRound,
        rounds,
        cache: 'off',
        primary: 'far (through the WAN proxy)',
        replica: `${REGION} (local)`,
      },
      regionRoutingOff: off,
      regionRoutingOn: on,
      medianReduction: Number(reduction.toFixed(3)),
      target: { medianReductionAtLeast: TARGET_REDUCTION },
      pass,
    };
    const reportPath = writeReport('bench-regions.json', report);
    console.log(
      `\nEU tenants through an EU gateway, ${wanMs} ms each way to the far primary, ${samples.off.length} reads per mode:\n` +
        `  region-routing off (far primary): median ${off.medianMs} ms, p95 ${off.p95Ms} ms\n` +
        `  region-routing on  (eu replica):  median ${on.medianMs} ms, p95 ${on.p95Ms} ms\n` +
        `  median ${(reduction * 100).toFixed(1)}% lower with it on (target ≥ ${TARGET_REDUCTION * 100}%): ${verdict(pass)}\n` +
        `report: ${reportPath}`,
    );
    return pass ? 0 : 1;
  },
);
process.exit(exitCode);
