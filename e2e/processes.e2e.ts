import { DEV_ISSUER, ensureDevInternalKeys, ensureDevKeys } from '@coherence/auth';
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from '@coherence/devservices/managedProcess';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Every process as it runs in production: its own `main`, configured by
 * environment, serving /healthz, /readyz and /metrics on its admin listener
 * and only /healthz of the three on its service listeners
 * (docs/adr/0016-admin-listeners.md), logging JSON, and exiting 0 after a
 * graceful SIGTERM.
 */
const repoRoot = resolve(import.meta.dirname, '..');
const logDir = mkdtempSync(join(tmpdir(), 'coherence-processes-'));
let database: TestDatabase;
const running: ManagedProcess[] = [];

interface ProcessDefinition {
  name: string;
  entry: string;
  /** The variable naming its admin port. */
  adminPort: string;
  /** The variables naming its service listeners' ports: none for a process that serves no API. */
  servicePorts: readonly string[];
  env: () => Record<string, string>;
}

const definitions = (): ProcessDefinition[] => {
  const services = inject('services');
  // Read when a process starts: the keys are made in beforeAll, after collection.
  const ingestAuth = () => ({ INGEST_JWKS: jwksPath, INGEST_TOKEN_ISSUERS: DEV_ISSUER, INGEST_REDIS_URL: services.redisUrl });
  const subgraphAuth = () => ({ SUBGRAPH_INTERNAL_JWKS: internalJwksPath });
  return [
    {
      name: 'ingest',
      entry: 'subgraphs/ingest/src/main.ts',
      adminPort: 'INGEST_ADMIN_PORT',
      servicePorts: ['INGEST_PORT', 'INGEST_SUBGRAPH_PORT'],
      env: () => ({
        INGEST_DATABASE_URL: database.urls.ingest,
        INGEST_REGION: 'us',
        ...ingestAuth(),
        ...subgraphAuth(),
      }),
    },
    {
      name: 'ingest-consumer',
      entry: 'subgraphs/ingest/src/consumer/main.ts',
      adminPort: 'INGEST_CONSUMER_ADMIN_PORT',
      servicePorts: [],
      env: () => ({
        INGEST_DATABASE_URL: database.urls.ingest,
        INGEST_REGION: 'us',
        KAFKA_BROKERS: services.kafkaBrokers.join(','),
        INGEST_SIGNALS_TOPIC: `${database.namespace}.signals`,
        INGEST_SIGNALS_DLQ_TOPIC: `${database.namespace}.dlq`,
        INGEST_CONSUMER_GROUP: `${database.namespace}-ingest`,
        ...ingestAuth(),
      }),
    },
    {
      name: 'coherence',
      entry: 'subgraphs/coherence/src/main.ts',
      adminPort: 'COHERENCE_ADMIN_PORT',
      servicePorts: ['COHERENCE_PORT'],
      env: () => ({
        COHERENCE_DATABASE_URL: database.urls.coherence,
        NEO4J_URL: services.neo4jBoltUrl,
        ...subgraphAuth(),
      }),
    },
    {
      name: 'comms',
      entry: 'subgraphs/comms/src/main.ts',
      adminPort: 'COMMS_ADMIN_PORT',
      servicePorts: ['COMMS_PORT', 'COMMS_INBOUND_PORT'],
      env: () => ({ COMMS_DATABASE_URL: database.urls.comms, ...subgraphAuth() }),
    },
    {
      name: 'comms-worker',
      entry: 'subgraphs/comms/src/worker/main.ts',
      adminPort: 'COMMS_WORKER_ADMIN_PORT',
      servicePorts: [],
      env: () => ({ COMMS_DATABASE_URL: database.urls.comms }),
    },
    {
      name: 'relay',
      entry: 'subgraphs/coherence/src/relay/main.ts',
      adminPort: 'RELAY_ADMIN_PORT',
      servicePorts: [],
      env: () => ({
        RELAY_DATABASE_URL: database.urls.relay,
        NEO4J_URL: services.neo4jBoltUrl,
        REDIS_URL: services.redisUrl,
        COHERENCE_CHANGED_CHANNEL: `${database.namespace}.coherence.changed`,
      }),
    },
  ];
};

function start(definition: ProcessDefinition, ports: Record<string, number>): ManagedProcess {
  const child = spawnManaged({
    name: definition.name,
    command: process.execPath,
    args: ['--import', 'tsx', join(repoRoot, definition.entry)],
    cwd: repoRoot,
    env: {
      ...process.env,
      // Not vitest's `test`, which no deployed process runs with: under it Apollo Server leaves out the SIGTERM and
      // SIGINT handlers it installs otherwise, and the shutdown tested here would not be the one that runs.
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      ...definition.env(),
      ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, `${port}`])),
    },
    logFile: join(logDir, `${definition.name}.log`),
  });
  running.push(child);
  return child;
}

let jwksPath: string;
let internalJwksPath: string;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  jwksPath = (await ensureDevKeys(join(logDir, 'keys'))).jwksPath;
  internalJwksPath = (await ensureDevInternalKeys(join(logDir, 'keys'))).jwksPath;
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await database?.drop();
  rmSync(logDir, { recursive: true, force: true });
});

describe.each(definitions().map((d) => [d.name, d] as const))('%s process', (_name, definition) => {
  it('is ready on its admin listener only, logs JSON, and exits 0 on SIGTERM', async () => {
    const ports: Record<string, number> = {};
    for (const name of [definition.adminPort, ...definition.servicePorts]) ports[name] = await freePort();
    const child = start(definition, ports);
    const base = `http://127.0.0.1:${ports[definition.adminPort]}`;
    await waitUntilHealthy(definition.name, child.logFile, async () => (await fetch(`${base}/readyz`)).ok, 30_000, child);
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = (await (await fetch(`${base}/readyz`)).json()) as { status: string; checks: { name: string; ok: boolean }[] };
    expect(ready.status).toBe('ready');
    expect(ready.checks.every((c) => c.ok)).toBe(true);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('http_request_duration_seconds_bucket');
    expect(metrics).toContain('process_cpu_user_seconds_total');
    for (const name of definition.servicePorts) {
      const service = `http://127.0.0.1:${ports[name]}`;
      const statuses = await Promise.all(
        ['/healthz', '/readyz', '/metrics'].map(async (path) => (await fetch(`${service}${path}`)).status),
      );
      expect({ [name]: statuses }).toEqual({ [name]: [200, 404, 404] });
    }

    await fetch(`${base}/no-such-route`, { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
    process.kill(child.pid, 'SIGTERM');
    expect(await child.exited).toBe(0);
    const lines = readFileSync(child.logFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.every((line) => line['service'] === definition.name)).toBe(true);
    const traced = lines.find((line) => line['trace_id'] === '4bf92f3577b34da6a3ce929d0e0e4736');
    expect(traced).toMatchObject({ request_id: expect.any(String) });
    const messages = lines.map((line) => line['msg']);
    expect(messages.indexOf('stopped')).toBeGreaterThan(messages.indexOf('shutting down'));
    expect(messages.at(-1)).toBe('stopped');
  });
});

it('refuses to start with bad configuration, listing every problem at once', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'subgraphs/ingest/src/main.ts')], {
    cwd: repoRoot,
    env: { ...process.env, INGEST_DATABASE_URL: 'not a url', INGEST_PORT: 'eighty', INGEST_MAX_SIGNALS_PER_BATCH: '-1' },
    encoding: 'utf8',
  });
  expect(result.status).toBe(2);
  expect(result.stderr).toContain('INGEST_DATABASE_URL');
  expect(result.stderr).toContain('INGEST_PORT');
  expect(result.stderr).toContain('INGEST_MAX_SIGNALS_PER_BATCH');
});
