/**
 * The whole stack on this machine, with demo data: `npm run stack`.
 *
 * Starts PostgreSQL (+ replica), Redis, Neo4j and Kafka on their documented
 * ports, migrates the database, starts the subgraphs, the relay and the
 * gateway as separate processes, Prometheus scraping each of them with the
 * rules of grafana/rules/, loads demo signals through ingest, prints
 * how to query it, and stays in the foreground until Ctrl-C, when it stops
 * everything it started, as on SIGTERM. Data and logs live in .data/stack/,
 * PostgreSQL's data in /var/lib/coherence/ (see `postgresDir`).
 */
import { ensureDevInternalKeys, ensureDevKeys, mintDevToken, SCOPES, type DevKeyFiles } from '@coherence/auth';
import { demoSignals, demoTenants } from '@coherence/fixtures';
import { defaultFlagStates } from '@coherence/flags';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import {
  adminUrl,
  devStackPorts,
  devStackUnleashTokenSecrets,
  startRoundRobinProxy,
  startServices,
  type RoundRobinProxy,
  type RunningServices,
  type ServiceEndpoints,
} from '@coherence/devservices';
import { startJaeger, type RunningJaeger } from '@coherence/devservices/jaeger';
import type { ManagedProcess } from '@coherence/devservices/managedProcess';
import { startPrometheus, type RunningPrometheus } from '@coherence/devservices/prometheus';
import { buildWorkbench, startWorkbench, type RunningWorkbench } from '@coherence/workbench/server';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ruleFiles } from '../e2e/support/observability';
import {
  APPLICATION_DATABASE,
  devStackApplicationPorts,
  prepareApplicationDatabase,
  processDefinitions,
  repoRoot,
  spawnApplicationProcess,
  waitUntilReady,
  type ProcessDefinition,
} from './stack/applicationProcesses';

const rootDir = join(repoRoot, '.data', 'stack');
/**
 * PostgreSQL runs as the OS user `postgres`, which cannot enter a clone in a
 * 0700 home (root's, on Debian), so its data is kept outside the checkout:
 * one folder per checkout, where it persists across restarts (and reboots).
 */
const postgresParentDir = '/var/lib/coherence';
const postgresDir = join(postgresParentDir, `${basename(repoRoot)}-${createHash('sha256').update(repoRoot).digest('hex').slice(0, 12)}`);

/**
 * With --instances N > 1, instance k's listeners are the default ports + this × k (14000…, 24000…, 34000…). Not
 * 1000: 6000 is one of the ports fetch refuses to call (X11), so a second gateway there could not be probed.
 */
const INSTANCE_PORT_STEP = 10_000;
const MAX_INSTANCES = 3;
/** The ports the Ingress exposes (docs/adr/0018-helm-chart.md): with several instances, a round-robin proxy takes each. */
const PUBLIC_PORTS = { gateway: 4000, ingest: 4001, 'comms inbound': 4013 } as const;

const help = `usage: npm run stack [-- [--fresh] [--instances N]]   (or: bash scripts/stack.sh [--fresh] [--instances N])

Starts the whole Coherence stack with demo data and keeps it running until Ctrl-C
or SIGTERM, which stop everything it started.
  --fresh         delete the stack's data first (all stored signals, graph and logs):
                  ${rootDir} and ${postgresDir}
  --instances N   run N (1 to ${MAX_INSTANCES}) of every process, default 1. With N > 1, instance k listens on
                  each port below + ${INSTANCE_PORT_STEP} × k (admin ports too), and a round-robin proxy takes the public
                  ports 4000 (gateways), 4001 (ingests) and 4013 (comms inbound); docs/adr/0019-scale-out.md
  -h              this help

Ports: gateway 4000, ingest 4001 (subgraph 4021), coherence 4002, comms 4003 (inbound webhooks 4013);
admin listeners (/healthz, /readyz, /metrics): gateway 4100, ingest 4101, coherence 4102, comms 4103, relay 4110, ingest-consumer 4111, comms-worker 4112;
postgres 5432 (replica 5433), redis 6379, neo4j bolt 7687, kafka 9092, unleash 4242, prometheus 9090;
jaeger: OTLP/HTTP 4318, query API 16686 (gRPC 16685).`;

const { values } = parseArgs({
  options: { fresh: { type: 'boolean' }, instances: { type: 'string', default: '1' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log(help);
  process.exit(0);
}
const instanceCount = Number(values.instances);
if (!Number.isInteger(instanceCount) || instanceCount < 1 || instanceCount > MAX_INSTANCES) {
  console.error(`[stack] --instances must be a whole number from 1 to ${MAX_INSTANCES}, not ${values.instances}`);
  process.exit(2);
}

const logDir = join(rootDir, 'logs');
const DATABASE = APPLICATION_DATABASE;
/** The dev key pair: the gateway and ingest trust its public half; `npm run token` signs with the private half. */
const keyDir = join(rootDir, 'keys');
/** The region the stack's gateway and ingest serve; the demo tenants reside in it. */
const REGION = 'us';
/** Prometheus' UI and API; it scrapes every process's admin listener (grafana/README.md). */
const PROMETHEUS_PORT = 9090;
/** Jaeger's default ports: the processes export OTLP/HTTP to 4318; its query API answers on 16686. */
const jaegerPorts = { otlpHttp: 4318, query: 16686, queryGrpc: 16685 };
/** How long the start waits for the relay to project the demo data; it goes through the outbox in order, after any backlog. */
const PROJECTION_DEADLINE_MS = 60_000;
/** The Workbench (docs/adr/0030-workbench-app.md); 4100 is the gateway's admin listener. Its origin is the one the gateway's CORS lists. */
const WORKBENCH_PORT = 4200;
const WORKBENCH_ORIGIN = `http://127.0.0.1:${WORKBENCH_PORT}`;
const say = (message: string) => console.log(`[stack] ${message}`);

for (const dir of values.fresh ? [rootDir, postgresDir] : []) {
  if (!existsSync(dir)) continue;
  say(`removing ${dir}`);
  rmSync(dir, { recursive: true, force: true });
}
// Made here, not by mkdir -p under a umask: `postgres` must be able to enter it.
mkdirSync(postgresParentDir, { recursive: true });
chmodSync(postgresParentDir, 0o755);

say('starting postgres (+ replica), redis, neo4j, kafka and unleash — the first run downloads them and takes a few minutes');
say(`data: ${rootDir}, postgres data: ${postgresDir}`);
// Unleash starts with v24.coherence on and region-routing off (the flags' defaults).
const servicesStarting: Promise<RunningServices> = startServices({
  rootDir,
  postgresDir,
  ports: devStackPorts,
  fast: false,
  unleashFlags: defaultFlagStates,
  unleashTokenSecrets: devStackUnleashTokenSecrets,
});
// The trace backend; the first run builds it from source (a few minutes), alongside the servers' start.
const jaegerStarting: Promise<RunningJaeger> = startJaeger({ ports: jaegerPorts, logFile: join(logDir, 'jaeger', 'jaeger.log') });
// Built alongside the servers' start (cached: only the first run after a change pays, about 20 s).
const workbenchBuilding = buildWorkbench();
workbenchBuilding.catch(() => undefined); // awaited (and reported) below
let workbench: RunningWorkbench | undefined;
const processes: ManagedProcess[] = [];
let prometheusStarting: Promise<RunningPrometheus> | undefined;
const proxies: RoundRobinProxy[] = [];
let stopping = false;
async function stopAll(exitCode: number): Promise<void> {
  // A second Ctrl-C (or npm's forwarded copy of the first) must not cut the stop short.
  if (stopping) return;
  stopping = true;
  say('stopping…');
  // Like the servers: one still starting is waited for, then stopped.
  await prometheusStarting?.then(
    (prometheus) => prometheus.stop(),
    () => undefined,
  );
  await workbench?.close();
  for (const proxy of proxies) await proxy.close();
  for (const child of processes.reverse()) await child.stop();
  // The servers run in their own process groups and outlive this process, so a
  // signal during their start waits for them to come up, then stops them.
  // startServices stops what it started itself when it fails.
  await servicesStarting.then(
    (services) => services.stop(),
    () => undefined,
  );
  await jaegerStarting.then(
    (jaeger) => jaeger.stop(),
    () => undefined,
  );
  say('stopped');
  process.exit(exitCode);
}
// Registered before anything is started, and `on`, not `once`: a signal at
// any point, also a second one while stopping, must not kill this process and
// orphan the servers it started (they are in process groups of their own).
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  const services = await servicesStarting;
  const jaeger = await jaegerStarting;
  say(`jaeger ready: query API ${jaeger.uiUrl}/api, OTLP/HTTP ${jaeger.otlpEndpoint}`);
  const keys = await ensureDevKeys(keyDir);
  await prepareDatabase(services.endpoints);
  const scrapeTargets = await startProcesses(services.endpoints, keys, await ensureDevInternalKeys(keyDir), jaeger);
  if (!stopping) await (prometheusStarting = startStackPrometheus(scrapeTargets));
  if (!stopping) await startStackWorkbench();
  await createDemoTenants(keys);
  await loadDemoData(services.endpoints, keys);
  if (!stopping) {
    printHowTo();
    watchProcesses();
  }
} catch (error) {
  // While stopping, the start-up in flight fails as its processes go away; that is not news.
  if (!stopping) {
    console.error(`[stack] failed: ${error instanceof Error ? error.message : String(error)}`);
    console.error(`[stack] logs are in ${logDir}`);
  }
  await stopAll(1);
}

async function prepareDatabase(endpoints: ServiceEndpoints): Promise<void> {
  // No tenants here: the demo tenants are created through the admin API once the gateway runs (createDemoTenants).
  const applied = await prepareApplicationDatabase(endpoints);
  say(applied.length > 0 ? `migrations applied: ${applied.join(', ')}` : 'database is up to date');
}

/** Instance k's ports are the defaults + INSTANCE_PORT_STEP × k when there are several; one instance keeps the defaults. */
function portOffset(instance: number): number {
  return instanceCount === 1 ? 0 : INSTANCE_PORT_STEP * instance;
}

/** A Prometheus scrape target: a process's admin listener under its service's name. */
type ScrapeTarget = { job: string; address: string; labels: { service: string } };

/** Starts every process; returns their admin listeners as Prometheus targets (those started before a stop, if one came). */
async function startProcesses(
  endpoints: ServiceEndpoints,
  keys: DevKeyFiles,
  internalKeys: DevKeyFiles,
  jaeger: RunningJaeger,
): Promise<ScrapeTarget[]> {
  const targets: ScrapeTarget[] = [];
  for (let instance = 1; instance <= instanceCount; instance += 1) {
    const ports = devStackApplicationPorts(portOffset(instance));
    // The Workbench's pages call the gateway from the browser: its origin is the one the gateway lets in (docs/adr/0028-workbench.md).
    const extraEnv = { gateway: { GATEWAY_CORS_ORIGINS: WORKBENCH_ORIGIN } };
    for (const definition of processDefinitions({ endpoints, keys, internalKeys, ports, region: REGION, extraEnv })) {
      // stopAll has already stopped the processes it saw; one started now would be orphaned.
      if (stopping) return targets;
      await startProcess(definition, instanceCount === 1 ? definition.name : `${definition.name}-${instance}`, jaeger);
      targets.push({ job: definition.name, address: `127.0.0.1:${definition.admin[1]}`, labels: { service: definition.name } });
    }
  }
  if (instanceCount === 1) return targets;
  // A dev stand-in for the load balancer (in production the Ingress): docs/adr/0019-scale-out.md.
  for (const [name, port] of Object.entries(PUBLIC_PORTS)) {
    if (stopping) return targets;
    const upstreams = Array.from({ length: instanceCount }, (_, i) => `http://127.0.0.1:${port + portOffset(i + 1)}`);
    proxies.push(await startRoundRobinProxy({ port, targets: upstreams }));
    say(`round-robin proxy for ${name} on http://127.0.0.1:${port} → ${upstreams.join(', ')}`);
  }
  return targets;
}

/** Starts one process and waits until it is ready before the next starts. */
async function startProcess(definition: ProcessDefinition, name: string, jaeger: RunningJaeger): Promise<void> {
  // Every process exports its spans to Jaeger, at the default sampling (docs/adr/0020-traces.md).
  const child = spawnApplicationProcess(definition, { name, logDir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint } });
  // Known to stopAll before it is waited for: a Ctrl-C during the wait stops it too.
  processes.push(child);
  await waitUntilReady(definition, child);
  const on = Object.values(definition.listeners)
    .map((p) => `http://127.0.0.1:${p}`)
    .join(' and ');
  say(
    `${name} ready${on ? ` on ${on}` : ''}, admin (/readyz, /metrics) on http://127.0.0.1:${definition.admin[1]} (log: ${child.logFile})`,
  );
}

/** The Workbench on 4200 against the gateway (the proxy when there are several), with dev sign-in for the demo tenants. */
async function startStackWorkbench(): Promise<void> {
  const { distDir, built, durationMs } = await workbenchBuilding;
  workbench = await startWorkbench({
    gatewayUrl: 'http://127.0.0.1:4000',
    port: WORKBENCH_PORT,
    distDir,
    devTokens: { keysDir: keyDir, tenants: demoTenants.map((t) => t.tenantId) },
  });
  say(`workbench ready on ${workbench.url} (${built ? `built in ${Math.round(durationMs / 1_000)} s` : 'build up to date'})`);
}

/** Prometheus with the rules of grafana/rules/, every process a target under its `service` label, `region` as an external label. */
async function startStackPrometheus(scrapeTargets: ScrapeTarget[]): Promise<RunningPrometheus> {
  const running = await startPrometheus({
    port: PROMETHEUS_PORT,
    dataDir: join(rootDir, 'prometheus'),
    logFile: join(logDir, 'prometheus.log'),
    scrapeTargets,
    ruleFiles: ruleFiles(),
    externalLabels: { region: REGION },
    scrapeIntervalSeconds: 5,
  });
  say(`prometheus ready on ${running.url} (rules: grafana/rules/, alerts: ${running.url}/alerts)`);
  return running;
}

/**
 * The demo tenants, created as a platform admin would: `CreateTenant` through
 * the gateway with a `tenants:admin` token, audited and announced like any
 * tenant (docs/runbooks/tenant-admin.md). A restart finds them there
 * (TENANT_EXISTS) and goes on.
 */
async function createDemoTenants(keys: DevKeyFiles): Promise<void> {
  if (stopping) return;
  const token = await mintDevToken(keys.privateKeyPath, {
    sub: 'stack-admin',
    tenant: 'platform',
    scopes: [SCOPES.tenantsAdmin],
    residency: [REGION],
  });
  const created: string[] = [];
  for (const { tenantId } of demoTenants) {
    const response = await fetch('http://127.0.0.1:4000/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: persistedBody('CreateTenant', { input: { tenantId, settings: { residency: REGION } } }),
    });
    const text = await response.text();
    const answer = JSON.parse(text) as { data?: { createTenant: { error: { code: string } | null } }; errors?: unknown };
    const refused = answer.data?.createTenant.error?.code;
    if (response.status !== 200 || answer.errors !== undefined || (refused !== undefined && refused !== 'TENANT_EXISTS'))
      throw new Error(`creating demo tenant ${tenantId}: the gateway answered ${response.status} ${text}`);
    if (refused === undefined) created.push(tenantId);
  }
  say(
    created.length > 0 ? `created demo tenants ${created.join(', ')} through the admin API (CreateTenant)` : 'demo tenants already there',
  );
}

async function loadDemoData(endpoints: ServiceEndpoints, keys: DevKeyFiles): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl(endpoints, DATABASE) });
  await client.connect();
  try {
    // The outbox events of this load are the demo tenants' above this mark;
    // events from earlier runs or other tenants are none of the start's business.
    // Quarantined events keep their outbox id, so the mark is above theirs too.
    const { rows } = await client.query<{ id: string }>(
      'SELECT greatest((SELECT max(id) FROM outbox), (SELECT max(id) FROM outbox_quarantine), 0)::text AS id',
    );
    const mark = rows[0]!.id;
    const signals = demoSignals(new Date());
    // A producer token writes its own tenant's signals only, so each tenant's go in with its own token.
    for (const { tenantId } of demoTenants) {
      const own = signals.filter((signal) => signal.tenantId === tenantId);
      const token = await mintDevToken(keys.privateKeyPath, {
        sub: 'stack-loader',
        tenant: tenantId,
        scopes: [SCOPES.writeSelf],
        residency: [REGION],
      });
      for (let i = 0; i < own.length; i += 500) {
        const response = await fetch('http://127.0.0.1:4001/v1/signals', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ signals: own.slice(i, i + 500) }),
        });
        if (response.status !== 202) throw new Error(`loading demo data: ingest answered ${response.status} ${await response.text()}`);
      }
    }
    say(`loaded ${signals.length} demo signals for ${demoTenants.map((t) => t.tenantId).join(', ')}`);
    await waitForDemoScores(client, mark);
  } finally {
    await client.end();
  }
}

/**
 * Waits in the database until the relay has projected this load's events and
 * every demo tenant has a score. Not through the gateway: its cache would keep
 * an answer read mid-projection for its TTL. Stops waiting early when one of
 * them was quarantined (it would wait for an operator). Either way the stack
 * stays up, as the outbox can only be inspected while it runs, and says what is stuck.
 */
async function waitForDemoScores(client: pg.Client, mark: string): Promise<void> {
  const tenantIds = demoTenants.map((t) => t.tenantId);
  const giveUpAt = Date.now() + PROJECTION_DEADLINE_MS;
  let demo = { pending: 0, quarantined: 0 };
  while (Date.now() < giveUpAt && !stopping) {
    const { rows } = await client.query<{ scored: number; pending: number; quarantined: number }>(
      `SELECT (SELECT count(*)::int FROM coherence_scores WHERE tenant_id = ANY($1) AND status <> 'UNKNOWN') AS scored,
              (SELECT count(*)::int FROM outbox WHERE processed_at IS NULL AND id > $2 AND tenant_id = ANY($1)) AS pending,
              (SELECT count(*)::int FROM outbox_quarantine WHERE id > $2 AND tenant_id = ANY($1)) AS quarantined`,
      [tenantIds, mark],
    );
    const { scored, pending, quarantined } = rows[0]!;
    demo = { pending, quarantined };
    if (quarantined > 0) break;
    if (scored === tenantIds.length && pending === 0) return;
    await sleep(200);
  }
  if (stopping) return;
  const { rows } = await client.query<{ pending: number; quarantined: number }>(
    `SELECT (SELECT count(*)::int FROM outbox WHERE processed_at IS NULL) AS pending,
            (SELECT count(*)::int FROM outbox_quarantine) AS quarantined`,
  );
  const all = rows[0]!;
  const headline =
    demo.quarantined > 0
      ? 'the relay quarantined outbox events of the demo data'
      : `the relay has not projected the demo data within ${PROJECTION_DEADLINE_MS / 1_000} s`;
  console.error(
    [
      `[stack] ${headline}, so the demo scores may be missing or stale:`,
      `[stack]   this demo load: ${demo.pending} event(s) pending, ${demo.quarantined} quarantined; ` +
        `all tenants: ${all.pending} pending, ${all.quarantined} quarantined`,
      `[stack]   \`npm run outbox -- list\` shows what is stuck and why; the relay's log: ${join(logDir, 'relay.log')}`,
      '[stack] the stack keeps running.',
    ].join('\n'),
  );
}

/** Keeps this process in the foreground, and takes the stack down if one process dies. */
function watchProcesses(): void {
  setInterval(() => {
    const dead = processes.find((child) => !child.isRunning());
    if (dead && !stopping) {
      console.error(`[stack] ${dead.name} exited unexpectedly; see ${dead.logFile}`);
      void stopAll(1);
    }
  }, 1_000);
}

/** A persisted operation's request body: the newest id of `name` in the manifest and its variables. */
function persistedBody(name: string, variables: Record<string, unknown>): string {
  const id = manifest.operations.findLast((op) => op.name === name)!.id;
  return JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: id } }, variables });
}

/** With several instances, where each one listens: the ports above + INSTANCE_PORT_STEP × k. */
function instancesNote(): string {
  if (instanceCount === 1) return '';
  const lines = Array.from({ length: instanceCount }, (_, i) => {
    const at = (port: number) => port + portOffset(i + 1);
    return (
      `  instance ${i + 1}: gateway :${at(4000)}, ingest :${at(4001)} (subgraph :${at(4021)}), coherence :${at(4002)}, ` +
      `comms :${at(4003)} (inbound :${at(4013)}); admin :${at(4100)}…:${at(4112)}`
    );
  });
  return `
${instanceCount} instances of every process. Round-robin proxies serve 4000 (gateways), 4001 (ingests) and 4013 (comms
inbound) below; the other ports below are those of a single instance, each instance's own are:
${lines.join('\n')}
`;
}

function printHowTo(): void {
  console.log(`
Coherence is running.
${instancesNote()}
  gateway   http://127.0.0.1:4000/graphql   (persisted operations only, bearer token required, region ${REGION})
  ingest    http://127.0.0.1:4001/v1/signals   (bearer token with coherence:write:self); subgraph http://127.0.0.1:4021 (gateway only)
  kafka     127.0.0.1:9092, topic coherence.signals.v1 (consumed by ingest-consumer)
  comms     http://127.0.0.1:4003 (subgraph, gateway only), inbound webhooks http://127.0.0.1:4013/v1/inbound/twilio/:tenantId,
            comms-worker (command bus, CoherenceChanged listener)
  admin     /readyz and /metrics of each process, never exposed: gateway :4100, ingest :4101, coherence :4102, comms :4103,
            relay :4110, ingest-consumer :4111, comms-worker :4112
  prometheus http://127.0.0.1:${PROMETHEUS_PORT} (every process scraped, the rules of grafana/rules/; alerts at /alerts)
  unleash   http://127.0.0.1:4242 (flags v24.coherence, region-routing, comms.notifications; \`npm run drill -- kill-switch --attach\`)
  jaeger    http://127.0.0.1:${jaegerPorts.query} (traces; OTLP/HTTP in on :${jaegerPorts.otlpHttp}); \`npm run trace -- --recent\` lists the latest
  workbench ${WORKBENCH_ORIGIN}   (the browser app: dev sign-in as any demo tenant; apps/workbench/README.md)
  tenants   ${demoTenants.map((t) => t.tenantId).join(', ')}
  logs      ${logDir}

Read a tenant's coherence by persisted id, with a token minted by the dev key
(run it from the repository root; \`npm run token -- --help\` lists the options):

  curl -s http://127.0.0.1:4000/graphql -H 'content-type: application/json' \\
    -H "authorization: Bearer $(npm run -s token -- --tenant acme --scope coherence:read:self --residency us)" \\
    -d '${persistedBody('TenantCoherence', { tenantId: 'acme' })}'

Add -i to see its \`traceparent\` response header, 00-<trace id>-<span id>-<flags>. To trace
this very request whatever the sampling, send a sampled one yourself:
-H "traceparent: 00-$(openssl rand -hex 16)-$(openssl rand -hex 8)-01", then open the trace:

  npm run trace -- <trace id>

Press Ctrl-C to stop everything.`);
}
