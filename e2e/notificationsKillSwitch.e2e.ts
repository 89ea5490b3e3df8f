import { createChangePublisher, createOutboxRelay, type OutboxRelay } from '@coherence/coherence';
import { createWorkerService, readCommsWorkerConfig } from '@coherence/comms';
import { createReceiver, type Receiver } from '@coherence/comms/testing';
import { flagNames } from '@coherence/flags';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import {
  createTestDatabase,
  createUnleashAdmin,
  freePort,
  startUnleash,
  unleashClientEnv,
  type RunningUnleash,
  type TestDatabase,
} from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { waitFor } from './ingestProcesses';

/**
 * `comms.notifications` off over the whole application: a tenant's status
 * turns CRITICAL; the relay still projects and publishes `CoherenceChanged`,
 * the gateway still answers the new score, comms turns the change into a
 * command, but nothing reaches the contact until the switch is on again.
 * Its own Unleash server: the flag it flips would pause every worker reading
 * the shared one.
 */
const flag = flagNames.commsNotifications;
const workDir = mkdtempSync(join(tmpdir(), 'coherence-notifications-switch-'));
let database: TestDatabase;
let unleash: RunningUnleash;
let app: Awaited<ReturnType<typeof startApplication>>;
let relay: OutboxRelay;
let relayPool: PgPool;
let admin: PgPool;
let publisher: Redis;
let listener: Redis;
let receiver: Receiver;
let worker: Awaited<ReturnType<typeof createWorkerService>>;
let tenantId: string;
const published: string[] = [];

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  unleash = await startUnleash({
    port: await freePort(),
    postgres: services.postgres,
    database: `${database.namespace}_unleash`,
    logFile: join(workDir, 'unleash.log'),
    flags: { [flag]: true },
  });
  const channel = `${database.namespace}:coherence.changed`;
  app = await startApplication(services, database, { gatewayEnv: { COHERENCE_CHANGED_CHANNEL: channel } });
  admin = createPgPool(database.adminUrl);
  tenantId = `${database.namespace}-acme`;
  receiver = await createReceiver(() => ({ status: 200 }));
  await admin.query(`INSERT INTO comms_contacts (tenant_id, contact_id, channel, url) VALUES ($1, 'chat', 'webhook', $2)`, [
    tenantId,
    receiver.url('/chat'),
  ]);
  publisher = new Redis(services.redisUrl);
  listener = new Redis(services.redisUrl);
  listener.on('message', (_channel, text: string) => published.push(text));
  await listener.subscribe(channel);
  relayPool = createPgPool(database.urls.relay);
  const logger = createLogger('test', 'silent');
  relay = createOutboxRelay({
    pool: relayPool,
    driver: app.driver,
    logger,
    windowHours: 24,
    publishChanged: createChangePublisher(publisher, channel),
  });
  worker = await createWorkerService(
    readCommsWorkerConfig({
      COMMS_DATABASE_URL: database.urls.comms,
      REDIS_URL: services.redisUrl,
      COHERENCE_CHANGED_CHANNEL: channel,
      COMMS_SSRF_ALLOW: '127.0.0.1/32',
      COMMS_POLL_MS: '200',
      ...unleashClientEnv(unleash, 200),
    }),
    logger,
  );
  await worker.start();
});

afterAll(async () => {
  await worker?.close();
  publisher?.disconnect();
  listener?.disconnect();
  await relayPool?.end();
  await receiver?.close();
  await app?.stop();
  await unleash?.stop();
  await admin?.end();
  await database?.drop();
  rmSync(workDir, { recursive: true, force: true });
});

async function deliveryPaused(): Promise<boolean> {
  const metrics = await worker.admin.inject({ method: 'GET', url: '/metrics' });
  return /^comms_delivery_paused 1$/m.test(metrics.body);
}

async function tenantStatus(): Promise<string> {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await app.readHeaders(tenantId)) },
    body: JSON.stringify({
      extensions: { persistedQuery: { version: 1, sha256Hash: manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id } },
      variables: { tenantId },
    }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { data: { tenantCoherence: { status: string } } }).data.tenantCoherence.status;
}

it('stops notifications without stopping reads, and delivers the held one when switched on', async () => {
  await createUnleashAdmin(unleash).setFlag(flag, false);
  await waitFor('the worker to pause', deliveryPaused, 15_000);

  const response = await fetch(`${app.ingestUrl}/v1/signals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await app.writeHeaders(tenantId)) },
    body: JSON.stringify({
      signals: [0.1, 0.2].map((value, i) => ({
        tenantId,
        source: 'api',
        signalId: `s${i}`,
        ts: new Date(Date.now() - (i + 1) * 60_000).toISOString(),
        type: 'health',
        value,
      })),
    }),
  });
  expect(response.status).toBe(202);
  await relay.drainAll();

  // Reads and the relay go on: the new status is answered and published.
  expect(await tenantStatus()).toBe('CRITICAL');
  await waitFor('CoherenceChanged on Redis', async () => published.some((text) => text.includes(tenantId)), 10_000);
  // Comms holds the notification as a command, untried.
  await waitFor(
    'the held command',
    async () => (await admin.query('SELECT 1 FROM dispatch_commands WHERE tenant_id = $1', [tenantId])).rowCount === 1,
    10_000,
  );
  await sleep(1_500);
  expect(receiver.to('/chat')).toEqual([]);
  const held = await admin.query('SELECT state, attempts FROM dispatch_commands WHERE tenant_id = $1', [tenantId]);
  expect(held.rows).toEqual([{ state: 'pending', attempts: 0 }]);

  await createUnleashAdmin(unleash).setFlag(flag, true);
  await waitFor('the delivery', async () => receiver.to('/chat').length === 1, 15_000);
  expect(JSON.parse(receiver.to('/chat')[0]!.body)).toMatchObject({ event: 'coherence.status_changed', tenantId, status: 'CRITICAL' });
});
