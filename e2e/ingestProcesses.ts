import { createPgPool } from '@coherence/platform';
import { DEV_ISSUER, ensureDevInternalKeys, ensureDevKeys, mintDevToken, SCOPES, type DevKeyFiles } from '@coherence/auth';
import { createTestDatabase, freePort, type ServiceEndpoints, type TestDatabase } from '@coherence/devservices';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from '@coherence/devservices/managedProcess';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The two ingest processes (HTTP push and Kafka consumer) as they run in
 * production, each its own `main` with its own environment, for the
 * whole-process tests (crash, outage). Ports are fixed per harness so a
 * restarted process comes back where the load generators expect it.
 */
const repoRoot = resolve(import.meta.dirname, '..');

export interface IngestProcessesOptions {
  services: ServiceEndpoints;
  database: TestDatabase;
  logDir: string;
  /**
   * For a second pair beside the first (docs/adr/0019-scale-out.md): appended to the log names. Every pair of one
   * database shares the dev keys in `logDir`, the topic and the consumer group.
   */
  instance?: number;
}

export async function createIngestProcesses(options: IngestProcessesOptions) {
  const { services, database, logDir } = options;
  const suffix = options.instance === undefined ? '' : `-${options.instance}`;
  const keys: DevKeyFiles = await ensureDevKeys(join(logDir, 'keys'));
  const internalKeys = await ensureDevInternalKeys(join(logDir, 'keys'));
  const [httpPort, httpAdminPort, consumerAdminPort] = [await freePort(), await freePort(), await freePort()];
  const topic = `${database.namespace}.signals`;
  const dlqTopic = `${database.namespace}.signals.dlq`;
  const groupId = `${database.namespace}-ingest`;
  const running: ManagedProcess[] = [];

  const start = async (name: string, entry: string, adminPort: number, env: Record<string, string>) => {
    const child = spawnManaged({
      name,
      command: process.execPath,
      args: ['--import', 'tsx', join(repoRoot, entry)],
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: 'info', INGEST_DATABASE_URL: database.urls.ingest, INGEST_REGION: 'us', ...env },
      logFile: join(logDir, `${name}${suffix}.log`),
    });
    running.push(child);
    await waitUntilHealthy(name, child.logFile, async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok, 60_000, child);
    return child;
  };

  return {
    topic,
    groupId,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    /** The HTTP process's admin listener: /healthz, /readyz, /metrics. */
    httpAdminUrl: `http://127.0.0.1:${httpAdminPort}`,
    /** The consumer's only listener, its admin one: /healthz, /readyz, /metrics. */
    consumerAdminUrl: `http://127.0.0.1:${consumerAdminPort}`,
    token: (tenantId: string) =>
      mintDevToken(keys.privateKeyPath, { sub: `producer-${tenantId}`, tenant: tenantId, scopes: [SCOPES.writeSelf], residency: ['us'] }),
    startHttp: () =>
      start('ingest', 'subgraphs/ingest/src/main.ts', httpAdminPort, {
        INGEST_PORT: `${httpPort}`,
        INGEST_ADMIN_PORT: `${httpAdminPort}`,
        INGEST_SUBGRAPH_PORT: '0',
        INGEST_JWKS: keys.jwksPath,
        INGEST_TOKEN_ISSUERS: DEV_ISSUER,
        INGEST_REDIS_URL: services.redisUrl,
        SUBGRAPH_INTERNAL_JWKS: internalKeys.jwksPath,
      }),
    startConsumer: () =>
      start('ingest-consumer', 'subgraphs/ingest/src/consumer/main.ts', consumerAdminPort, {
        INGEST_CONSUMER_ADMIN_PORT: `${consumerAdminPort}`,
        KAFKA_BROKERS: services.kafkaBrokers.join(','),
        INGEST_SIGNALS_TOPIC: topic,
        INGEST_SIGNALS_DLQ_TOPIC: dlqTopic,
        INGEST_CONSUMER_GROUP: groupId,
        // The broker's minimum: a SIGKILLed member's partitions move to its successor after 6 s, not 30 s.
        INGEST_CONSUMER_SESSION_TIMEOUT_MS: '6000',
        // No relay runs in these tests; the backlog must not pause the consumer.
        INGEST_BACKLOG_PAUSE_ABOVE: '10000000',
        INGEST_BACKLOG_RESUME_BELOW: '5000000',
      }),
    stopAll: () => Promise.all(running.map((child) => child.stop())),
  };
}

/** Records on `topic` not yet committed by `groupId`. */
export async function consumerLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const committedOf = (partition: number) => Number(committed[0]?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
  return ends.reduce((sum, end) => sum + Number(end.high) - Math.max(committedOf(end.partition), Number(end.low)), 0);
}

export async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs: number, pollMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

/**
 * What the ingest fault tests share: their own database, a superuser pool to
 * count what was stored, the ingest processes, and a Kafka admin and
 * producer. `stop()` undoes all of it, also after a failed start.
 */
export async function createIngestHarness(name: string, services: ServiceEndpoints) {
  const logDir = mkdtempSync(join(tmpdir(), `coherence-${name}-`));
  const database = await createTestDatabase(services);
  const admin = createPgPool(database.adminUrl);
  // Outage tests terminate sessions and DROP … WITH (FORCE) ends the pool's
  // idle ones; pg reports that as an 'error' event, fatal when unheard. A
  // query on a dead session still fails loudly, so nothing is hidden.
  admin.on('error', () => undefined);
  const ingest = await createIngestProcesses({ services, database, logDir });
  const kafka = new Kafka({ clientId: `${name}-test`, brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING });
  const kafkaAdmin = kafka.admin();
  const producer = kafka.producer();
  await kafkaAdmin.connect();
  await producer.connect();
  return {
    database,
    admin,
    ingest,
    kafkaAdmin,
    producer,
    /** Registers a tenant in ingest's region (`us`): the write policy refuses to store signals of unregistered ones. */
    registerTenant: (tenantId: string) => admin.query(`INSERT INTO tenants (tenant_id, residency) VALUES ($1, 'us')`, [tenantId]),
    async stop() {
      await ingest.stopAll();
      await producer.disconnect();
      await kafkaAdmin.disconnect();
      await admin.end();
      await database.drop();
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}
