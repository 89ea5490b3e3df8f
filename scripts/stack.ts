/**
 * The whole stack on this machine, with demo data: `npm run stack`.
 *
 * Starts PostgreSQL (+ replica), Redis, Neo4j and Kafka on their documented
 * ports, migrates the database, starts the subgraphs, the relay and the
 * gateway as separate processes, loads demo signals through ingest, prints
 * how to query it, and stays in the foreground until Ctrl-C, when it stops
 * everything it started. Data and logs live in .data/stack/.
 */
import { DEV_ISSUER, ensureDevKeys, mintDevToken, SCOPES, type DevKeyFiles } from '@coherence/auth';
import { demoSignals, demoTenants } from '@coherence/fixtures';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import {
  adminQuery,
  adminUrl,
  devStackPorts,
  devStackUnleashTokenSecrets,
  migrateDatabase,
  startServices,
  type ServiceEndpoints,
} from '@coherence/testkit';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from '@coherence/testkit/managedProcess';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';

const help = `usage: npm run stack [-- --fresh]

Starts the whole Coherence stack with demo data and keeps it running until Ctrl-C.
  --fresh   delete .data/stack first (all stored signals, graph and logs)
  -h        this help

Ports: gateway 4000, ingest 4001, coherence 4002, comms 4003 (inbound webhooks 4013), relay 4010, ingest-consumer 4011, comms-worker 4012,
postgres 5432 (replica 5433), redis 6379, neo4j bolt 7687, kafka 9092, unleash 4242.`;

const { values } = parseArgs({ options: { fresh: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log(help);
  process.exit(0);
}

const repoRoot = resolve(import.meta.dirname, '..');
const rootDir = join(repoRoot, '.data', 'stack');
const logDir = join(rootDir, 'logs');
const DATABASE = 'coherence';
/** The dev key pair: the gateway and ingest trust its public half; `npm run token` signs with the private half. */
const keyDir = join(rootDir, 'keys');
/** The region the stack's gateway serves; the demo tenants reside in it. */
const REGION = 'us';
const say = (message: string) => console.log(`[stack] ${message}`);

if (values.fresh && existsSync(rootDir)) {
  say(`removing ${rootDir}`);
  rmSync(rootDir, { recursive: true, force: true });
}

say('starting postgres (+ replica), redis, neo4j, kafka and unleash — the first run downloads them and takes a few minutes');
// Unleash starts with v24.coherence on and region-routing off (the flags' defaults).
const services = await startServices({ rootDir, ports: devStackPorts, fast: false, unleashTokenSecrets: devStackUnleashTokenSecrets });
const processes: ManagedProcess[] = [];
let stopping = false;
async function stopAll(exitCode: number): Promise<void> {
  // npm, tsx and this process all see Ctrl-C; later signals must not cut the stop short.
  if (stopping) return;
  stopping = true;
  say('stopping…');
  for (const child of processes.reverse()) await child.stop();
  await services.stop();
  say('stopped');
  process.exit(exitCode);
}
// `on`, not `once`: a second Ctrl-C while stopping must not kill this
// process and orphan the servers it is stopping.
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  const keys = await ensureDevKeys(keyDir);
  await prepareDatabase(services.endpoints);
  await startProcesses(services.endpoints, keys);
  await loadDemoData(services.endpoints, keys);
  printHowTo();
  watchProcesses();
} catch (error) {
  console.error(`[stack] failed: ${error instanceof Error ? error.message : String(error)}`);
  console.error(`[stack] logs are in ${logDir}`);
  await stopAll(1);
}

async function prepareDatabase(endpoints: ServiceEndpoints): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl(endpoints, 'postgres') });
  await client.connect();
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
  await client.end();
  if (rowCount === 0) await adminQuery(endpoints, `CREATE DATABASE ${DATABASE}`);
  const applied = await migrateDatabase(adminUrl(endpoints, DATABASE));
  say(applied.length > 0 ? `migrations applied: ${applied.join(', ')}` : 'database is up to date');
  // The gateway serves registered tenants only (fail closed on unknown residency).
  const seed = new pg.Client({ connectionString: adminUrl(endpoints, DATABASE) });
  await seed.connect();
  await seed.query('INSERT INTO tenants (tenant_id, residency) SELECT unnest($1::text[]), $2 ON CONFLICT (tenant_id) DO NOTHING', [
    demoTenants.map((t) => t.tenantId),
    REGION,
  ]);
  await seed.end();
}

async function startProcesses(endpoints: ServiceEndpoints, keys: DevKeyFiles): Promise<void> {
  const { host, port } = endpoints.postgres;
  const appUrl = `postgres://coherence_app@${host}:${port}/${DATABASE}`;
  const relayUrl = `postgres://coherence_relay@${host}:${port}/${DATABASE}`;
  const definitions = [
    {
      name: 'ingest',
      entry: 'subgraphs/ingest/src/main.ts',
      port: 4001,
      env: {
        INGEST_DATABASE_URL: appUrl,
        INGEST_JWKS: keys.jwksPath,
        INGEST_TOKEN_ISSUERS: DEV_ISSUER,
        INGEST_REDIS_URL: endpoints.redisUrl,
      },
    },
    {
      name: 'ingest-consumer',
      entry: 'subgraphs/ingest/src/consumer/main.ts',
      port: 4011,
      env: { INGEST_DATABASE_URL: appUrl, KAFKA_BROKERS: endpoints.kafkaBrokers.join(',') },
    },
    {
      name: 'coherence',
      entry: 'subgraphs/coherence/src/main.ts',
      port: 4002,
      env: {
        COHERENCE_DATABASE_URL: appUrl,
        NEO4J_URL: endpoints.neo4jBoltUrl,
        // Read while the gateway sends a region hint (region-routing on); the stack's gateway is in `us`, so only a gateway in the replica's region uses it.
        COHERENCE_READ_REPLICAS: `${endpoints.postgres.replicaRegion}=postgres://coherence_app@${host}:${endpoints.postgres.replicaPort}/${DATABASE}`,
      },
    },
    // Two listeners: the subgraph (gateway only) and the inbound provider webhooks (internet-facing).
    { name: 'comms', entry: 'subgraphs/comms/src/main.ts', port: 4003, inboundPort: 4013, env: { COMMS_DATABASE_URL: appUrl } },
    {
      // Runs notification commands and turns CoherenceChanged into them; no contacts exist until one is added.
      name: 'comms-worker',
      entry: 'subgraphs/comms/src/worker/main.ts',
      port: 4012,
      env: { COMMS_DATABASE_URL: appUrl, REDIS_URL: endpoints.redisUrl },
    },
    {
      name: 'relay',
      entry: 'subgraphs/coherence/src/relay/main.ts',
      port: 4010,
      env: { RELAY_DATABASE_URL: relayUrl, NEO4J_URL: endpoints.neo4jBoltUrl, REDIS_URL: endpoints.redisUrl },
    },
    {
      name: 'gateway',
      entry: 'gateway/src/main.ts',
      port: 4000,
      env: {
        GATEWAY_DATABASE_URL: appUrl,
        GATEWAY_REGION: REGION,
        GATEWAY_JWKS: keys.jwksPath,
        GATEWAY_TOKEN_ISSUERS: DEV_ISSUER,
        GATEWAY_REDIS_URL: endpoints.redisUrl,
        UNLEASH_URL: endpoints.unleash.apiUrl,
        UNLEASH_API_TOKEN: endpoints.unleash.clientToken,
      },
    },
  ];
  for (const { name, entry, port: servicePort, inboundPort, env } of definitions) {
    const logFile = join(logDir, `${name}.log`);
    const child = spawnManaged({
      name,
      command: process.execPath,
      args: ['--import', 'tsx', join(repoRoot, entry)],
      cwd: repoRoot,
      env: { ...process.env, ...env },
      logFile,
    });
    processes.push(child);
    const ready = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
    await waitUntilHealthy(
      name,
      logFile,
      async () => (await ready(servicePort)) && (inboundPort === undefined || (await ready(inboundPort))),
      60_000,
      child,
    );
    say(`${name} ready on http://127.0.0.1:${servicePort} (log: ${logFile})`);
  }
}

async function loadDemoData(endpoints: ServiceEndpoints, keys: DevKeyFiles): Promise<void> {
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
  // The relay projects asynchronously; wait in the database until every tenant
  // has a score and nothing is pending. Not through the gateway: its cache would
  // keep an answer read mid-projection (with a backlog) for its TTL.
  const client = new pg.Client({ connectionString: adminUrl(endpoints, DATABASE) });
  await client.connect();
  try {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const { rows } = await client.query<{ scored: number; pending: number }>(
        `SELECT (SELECT count(*)::int FROM coherence_scores WHERE tenant_id = ANY($1) AND status <> 'UNKNOWN') AS scored,
                (SELECT count(*)::int FROM outbox WHERE processed_at IS NULL) AS pending`,
        [demoTenants.map((t) => t.tenantId)],
      );
      if (rows[0]!.scored === demoTenants.length && rows[0]!.pending === 0) return;
      await sleep(200);
    }
  } finally {
    await client.end();
  }
  throw new Error('the relay did not project the demo data within 20 s; see relay.log');
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

function requestBody(tenantId: string): string {
  const id = manifest.operations.find((op) => op.name === 'TenantCoherence')!.id;
  return JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: id } }, variables: { tenantId } });
}

function printHowTo(): void {
  console.log(`
Coherence is running.

  gateway   http://127.0.0.1:4000/graphql   (persisted operations only, bearer token required, region ${REGION})
  ingest    http://127.0.0.1:4001/v1/signals   (bearer token with coherence:write:self)
  kafka     127.0.0.1:9092, topic coherence.signals.v1 (consumed by ingest-consumer, metrics on :4011)
  comms     http://127.0.0.1:4003 (subgraph, gateway only), inbound webhooks http://127.0.0.1:4013/v1/inbound/twilio/:tenantId,
            worker metrics on :4012 (command bus, CoherenceChanged listener)
  unleash   http://127.0.0.1:4242 (flags v24.coherence, region-routing; \`npm run drill:killswitch -- --target stack\`)
  tenants   ${demoTenants.map((t) => t.tenantId).join(', ')}
  logs      ${logDir}

Read a tenant's coherence by persisted id, with a token minted by the dev key
(run it from the repository root; \`npm run token -- --help\` lists the options):

  curl -s http://127.0.0.1:4000/graphql -H 'content-type: application/json' \\
    -H "authorization: Bearer $(npm run -s token -- --tenant acme --scope coherence:read:self --residency us)" \\
    -d '${requestBody('acme')}'

Press Ctrl-C to stop everything.`);
}
