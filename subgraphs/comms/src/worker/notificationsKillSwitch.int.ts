import { flagNames } from '@coherence/flags';
import { createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, createUnleashAdmin, unleashClientEnv, type TestDatabase, type UnleashAdmin } from '@coherence/devservices';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { sendCommand } from '../bus/sendCommand';
import { readCommsWorkerConfig } from '../config';
import { NOTIFY_WEBHOOK } from '../delivery/createWebhookHandler';
import { createReceiver, type Receiver } from '../testing/createReceiver';
import { createWorkerService } from './createWorkerService';

/**
 * The `comms.notifications` kill switch on the real Unleash server of the
 * test run and a real comms worker and receiver: off, the worker claims
 * nothing and says so (log line, `comms_delivery_paused`); commands sent
 * meanwhile wait, pending and untried; on again, every one is delivered.
 * (No other test's worker reads this server, so flipping the flag here
 * disturbs nobody; it is left on.)
 */
const flag = flagNames.commsNotifications;
let database: TestDatabase;
let app: PgPool;
let admin: PgPool;
let receiver: Receiver;
let flags: UnleashAdmin;
let worker: Awaited<ReturnType<typeof createWorkerService>>;
const logLines: { msg: string }[] = [];

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  app = createPgPool(database.urls.comms);
  admin = createPgPool(database.adminUrl);
  receiver = await createReceiver(() => ({ status: 200 }));
  // The worker claims the commands of the tenants residing in its region (COMMS_REGION, us) only.
  await admin.query(`INSERT INTO tenants (tenant_id, residency) VALUES ($1, 'us')`, [`${database.namespace}-acme`]);
  flags = createUnleashAdmin(services.unleash);
  await flags.setFlag(flag, true);
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as { msg: string }) });
  worker = await createWorkerService(
    readCommsWorkerConfig({
      COMMS_DATABASE_URL: database.urls.comms,
      COMMS_SSRF_ALLOW: '127.0.0.1/32',
      COMMS_POLL_MS: '200',
      ...unleashClientEnv(services.unleash, 200),
    }),
    logger,
  );
  await worker.start();
});

afterAll(async () => {
  await flags?.setFlag(flag, true);
  await worker?.close();
  await receiver?.close();
  await app?.end();
  await admin?.end();
  await database?.drop();
});

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > giveUpAt) throw new Error('condition not met in time');
    await sleep(100);
  }
}

async function pausedGauge(): Promise<number> {
  const metrics = await worker.admin.inject({ method: 'GET', url: '/metrics' });
  return Number(/^comms_delivery_paused (\d+)$/m.exec(metrics.body)![1]);
}

async function send(path: string): Promise<string> {
  const commandId = randomUUID();
  await sendCommand(app, {
    commandId,
    tenantId: `${database.namespace}-acme`,
    type: NOTIFY_WEBHOOK,
    idempotencyKey: commandId,
    correlationId: `kill-switch-${path}`,
    payload: { contactId: path, url: receiver.url(path), body: { event: 'test' } },
    maxAttempts: 3,
  });
  return commandId;
}

const commands = async (ids: string[]) =>
  (
    await admin.query<{ state: string; attempts: number }>(
      'SELECT state, attempts FROM dispatch_commands WHERE command_id = ANY($1) ORDER BY command_id',
      [ids],
    )
  ).rows;

it('delivers while comms.notifications is on', async () => {
  await send('/before');
  await eventually(() => receiver.to('/before').length === 1);
  expect(await pausedGauge()).toBe(0);
});

it('claims nothing while it is off, losing nothing, and delivers every waiting command once it is on again', async () => {
  await flags.setFlag(flag, false);
  await eventually(async () => (await pausedGauge()) === 1);
  expect(logLines.map((line) => line.msg)).toContain('delivery paused (comms.notifications is off): claiming nothing, commands wait');

  const waiting = [await send('/paused-1'), await send('/paused-2')];
  // Many poll intervals (and the NOTIFY of each send) while the switch is off.
  await sleep(2_000);
  expect(receiver.to('/paused-1')).toEqual([]);
  expect(receiver.to('/paused-2')).toEqual([]);
  expect(await commands(waiting)).toEqual([
    { state: 'pending', attempts: 0 },
    { state: 'pending', attempts: 0 },
  ]);

  await flags.setFlag(flag, true);
  await eventually(() => receiver.to('/paused-1').length === 1 && receiver.to('/paused-2').length === 1);
  await eventually(async () => (await commands(waiting)).every((command) => command.state === 'succeeded'));
  expect(await pausedGauge()).toBe(0);
  expect(logLines.map((line) => line.msg)).toContain('delivery resumed (comms.notifications is on)');
});
