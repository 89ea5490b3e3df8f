/**
 * The application as separate OS processes, as it runs in production: each
 * service's `main` with its own environment, on its own ports, started one
 * after another and each waited for on its admin listener's /readyz
 * (docs/adr/0016-admin-listeners.md). Shared by `npm run stack` (the
 * documented ports) and `npm run drill` (free ports; its processes are the
 * ones it kill -9s: docs/adr/0023-drills.md).
 */
import { DEV_ISSUER, type DevKeyFiles } from '@coherence/auth';
import { adminQuery, adminUrl, freePort, type ServiceEndpoints } from '@coherence/devservices';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from '@coherence/devservices/managedProcess';
import { migrateDatabase } from '@coherence/migrations';
import { join, resolve } from 'node:path';
import pg from 'pg';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
/** The application's database on the primary. */
export const APPLICATION_DATABASE = 'coherence';

/** Every process of one instance of the application, in the order they start (the gateway last, over its subgraphs). */
export const APPLICATION_PROCESSES = ['ingest', 'ingest-consumer', 'coherence', 'comms', 'comms-worker', 'relay', 'gateway'] as const;
export type ApplicationProcessName = (typeof APPLICATION_PROCESSES)[number];

/** Where one instance listens: the service listeners, and each process's admin listener (/healthz, /readyz, /metrics). */
export interface ApplicationPorts {
  gateway: number;
  ingest: number;
  ingestSubgraph: number;
  coherence: number;
  comms: number;
  commsInbound: number;
  admin: Record<ApplicationProcessName, number>;
}

/** The dev stack's documented ports (README, "Ports"), each + `offset` (a further instance of `npm run stack --instances`). */
export function devStackApplicationPorts(offset = 0): ApplicationPorts {
  const at = (port: number) => port + offset;
  return {
    gateway: at(4000),
    ingest: at(4001),
    ingestSubgraph: at(4021),
    coherence: at(4002),
    comms: at(4003),
    commsInbound: at(4013),
    admin: {
      gateway: at(4100),
      ingest: at(4101),
      coherence: at(4102),
      comms: at(4103),
      relay: at(4110),
      'ingest-consumer': at(4111),
      'comms-worker': at(4112),
    },
  };
}

/** Free ports picked now, for an application beside anything else on the machine (the drill's, the tests'). */
export async function freeApplicationPorts(): Promise<ApplicationPorts> {
  // One after another, each different from those before: a port freed a moment ago may be handed out again.
  const taken = new Set<number>();
  const pick = async (): Promise<number> => {
    const port = await freePort();
    if (taken.has(port)) return pick();
    taken.add(port);
    return port;
  };
  const admin = {} as Record<ApplicationProcessName, number>;
  for (const name of APPLICATION_PROCESSES) admin[name] = await pick();
  return {
    gateway: await pick(),
    ingest: await pick(),
    ingestSubgraph: await pick(),
    coherence: await pick(),
    comms: await pick(),
    commsInbound: await pick(),
    admin,
  };
}

/** A process of the application: its entry point, its service listeners (none for a worker) and its admin listener, each as variable → port. */
export interface ProcessDefinition {
  name: ApplicationProcessName;
  entry: string;
  listeners: Record<string, number>;
  admin: [variable: string, port: number];
  env: Record<string, string>;
}

export interface ProcessDefinitionsOptions {
  endpoints: ServiceEndpoints;
  /** The dev key pair: the gateway and ingest trust its public half. */
  keys: DevKeyFiles;
  /** The gateway signs its subgraph calls with its private half; the subgraphs trust its public half. */
  internalKeys: DevKeyFiles;
  ports: ApplicationPorts;
  /** The region the gateway, ingest and the comms worker serve. */
  region: string;
  /** Extra environment of single processes (the drill lets its comms worker deliver to a loopback receiver). */
  extraEnv?: Partial<Record<ApplicationProcessName, Record<string, string>>>;
}

export function processDefinitions(options: ProcessDefinitionsOptions): ProcessDefinition[] {
  const { endpoints, keys, internalKeys, ports, region } = options;
  const { host, port } = endpoints.postgres;
  // The subgraphs answer calls signed with the gateway's internal key only.
  const subgraphEnv = { SUBGRAPH_INTERNAL_JWKS: internalKeys.jwksPath };
  // Each process as its own role (docs/adr/0015-service-roles.md).
  const urlAs = (role: string, onPort = port) => `postgres://${role}@${host}:${onPort}/${APPLICATION_DATABASE}`;
  const definitions: ProcessDefinition[] = [
    // Two listeners: the producers' POST /v1/signals (internet-facing) and the subgraph (gateway only).
    {
      name: 'ingest',
      entry: 'subgraphs/ingest/src/main.ts',
      listeners: { INGEST_PORT: ports.ingest, INGEST_SUBGRAPH_PORT: ports.ingestSubgraph },
      admin: ['INGEST_ADMIN_PORT', ports.admin.ingest],
      env: {
        INGEST_DATABASE_URL: urlAs('ingest_app'),
        INGEST_REGION: region,
        INGEST_JWKS: keys.jwksPath,
        INGEST_TOKEN_ISSUERS: DEV_ISSUER,
        INGEST_REDIS_URL: endpoints.redisUrl,
        ...subgraphEnv,
      },
    },
    {
      // Every instance joins the one consumer group: the topic's partitions are shared among them.
      name: 'ingest-consumer',
      entry: 'subgraphs/ingest/src/consumer/main.ts',
      listeners: {},
      admin: ['INGEST_CONSUMER_ADMIN_PORT', ports.admin['ingest-consumer']],
      env: { INGEST_DATABASE_URL: urlAs('ingest_app'), INGEST_REGION: region, KAFKA_BROKERS: endpoints.kafkaBrokers.join(',') },
    },
    {
      name: 'coherence',
      entry: 'subgraphs/coherence/src/main.ts',
      listeners: { COHERENCE_PORT: ports.coherence },
      admin: ['COHERENCE_ADMIN_PORT', ports.admin.coherence],
      env: {
        COHERENCE_DATABASE_URL: urlAs('coherence_app'),
        NEO4J_URL: endpoints.neo4jBoltUrl,
        // Read while the gateway's tokens name a replica region (region-routing on); a gateway in `us` does not use it.
        COHERENCE_READ_REPLICAS: `${endpoints.postgres.replicaRegion}=${urlAs('coherence_app', endpoints.postgres.replicaPort)}`,
        ...subgraphEnv,
      },
    },
    // Two listeners: the subgraph (gateway only) and the inbound provider webhooks (internet-facing).
    {
      name: 'comms',
      entry: 'subgraphs/comms/src/main.ts',
      listeners: { COMMS_PORT: ports.comms, COMMS_INBOUND_PORT: ports.commsInbound },
      admin: ['COMMS_ADMIN_PORT', ports.admin.comms],
      env: { COMMS_DATABASE_URL: urlAs('comms_app'), COMMS_ADMIN_DATABASE_URL: urlAs('comms_admin'), ...subgraphEnv },
    },
    {
      // Runs notification commands and turns CoherenceChanged into them; no contacts exist until one is added.
      name: 'comms-worker',
      entry: 'subgraphs/comms/src/worker/main.ts',
      listeners: {},
      admin: ['COMMS_WORKER_ADMIN_PORT', ports.admin['comms-worker']],
      env: {
        COMMS_DATABASE_URL: urlAs('comms_app'),
        // It claims the commands of the tenants residing in its region only.
        COMMS_REGION: region,
        REDIS_URL: endpoints.redisUrl,
        // The comms.notifications kill switch.
        UNLEASH_URL: endpoints.unleash.apiUrl,
        UNLEASH_API_TOKEN: endpoints.unleash.clientToken,
      },
    },
    {
      name: 'relay',
      entry: 'subgraphs/coherence/src/relay/main.ts',
      listeners: {},
      admin: ['RELAY_ADMIN_PORT', ports.admin.relay],
      env: { RELAY_DATABASE_URL: urlAs('relay_app'), NEO4J_URL: endpoints.neo4jBoltUrl, REDIS_URL: endpoints.redisUrl },
    },
    {
      // Over the subgraphs of its own instance.
      name: 'gateway',
      entry: 'gateway/src/main.ts',
      listeners: { GATEWAY_PORT: ports.gateway },
      admin: ['GATEWAY_ADMIN_PORT', ports.admin.gateway],
      env: {
        SUBGRAPH_INGEST_URL: `http://127.0.0.1:${ports.ingestSubgraph}/graphql`,
        SUBGRAPH_COHERENCE_URL: `http://127.0.0.1:${ports.coherence}/graphql`,
        SUBGRAPH_COMMS_URL: `http://127.0.0.1:${ports.comms}/graphql`,
        GATEWAY_DATABASE_URL: urlAs('gateway_app'),
        GATEWAY_REGION: region,
        GATEWAY_JWKS: keys.jwksPath,
        GATEWAY_TOKEN_ISSUERS: DEV_ISSUER,
        GATEWAY_INTERNAL_SIGNING_KEY: internalKeys.privateKeyPath,
        GATEWAY_REDIS_URL: endpoints.redisUrl,
        UNLEASH_URL: endpoints.unleash.apiUrl,
        UNLEASH_API_TOKEN: endpoints.unleash.clientToken,
      },
    },
  ];
  return definitions.map((definition) => ({ ...definition, env: { ...definition.env, ...options.extraEnv?.[definition.name] } }));
}

export interface StartProcessOptions {
  /** Default the definition's name; the log is `<logDir>/<name>.log`. */
  name?: string;
  logDir: string;
  /** Environment beneath the definition's own (e.g. where to export traces). */
  env?: Record<string, string>;
}

/** Spawns one process, stdout and stderr appended to its log; {@link waitUntilReady} says when it serves. */
export function spawnApplicationProcess(definition: ProcessDefinition, options: StartProcessOptions): ManagedProcess {
  const { entry, listeners, admin, env } = definition;
  const name = options.name ?? definition.name;
  const [adminVariable, adminPort] = admin;
  const ports = Object.fromEntries([...Object.entries(listeners), admin].map(([variable, port]) => [variable, `${port}`]));
  return spawnManaged({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', join(repoRoot, entry)],
    cwd: repoRoot,
    env: { ...process.env, ...options.env, ...env, ...ports, [adminVariable]: `${adminPort}` },
    logFile: join(options.logDir, `${name}.log`),
  });
}

/**
 * Waits until each of the process's service listeners answers /healthz and
 * its admin listener's /readyz says it is ready, or throws naming its log.
 */
export async function waitUntilReady(definition: ProcessDefinition, child: ManagedProcess, deadlineMs = 60_000): Promise<void> {
  const answers = async (listenerPort: number, path: string) => (await fetch(`http://127.0.0.1:${listenerPort}${path}`)).ok;
  const servicePorts = Object.values(definition.listeners);
  await waitUntilHealthy(
    child.name,
    child.logFile,
    async () =>
      (await answers(definition.admin[1], '/readyz')) &&
      (await Promise.all(servicePorts.map((p) => answers(p, '/healthz')))).every(Boolean),
    deadlineMs,
    child,
  );
}

/** Spawns one process and waits until it is ready; one that does not come up is stopped before the error is thrown. */
export async function startApplicationProcess(definition: ProcessDefinition, options: StartProcessOptions): Promise<ManagedProcess> {
  const child = spawnApplicationProcess(definition, options);
  try {
    await waitUntilReady(definition, child);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return child;
}

/**
 * Creates the application's database when missing and migrates it. Returns
 * the migrations applied. Tenants are not made here: the stack creates its
 * demo tenants through the admin API, and a drill registers its own.
 */
export async function prepareApplicationDatabase(endpoints: ServiceEndpoints): Promise<string[]> {
  const client = new pg.Client({ connectionString: adminUrl(endpoints, 'postgres') });
  await client.connect();
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [APPLICATION_DATABASE]);
  await client.end();
  if (rowCount === 0) await adminQuery(endpoints, `CREATE DATABASE ${APPLICATION_DATABASE}`);
  return migrateDatabase(adminUrl(endpoints, APPLICATION_DATABASE));
}
