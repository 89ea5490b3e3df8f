import { createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { NOTIFY_WEBHOOK } from '../delivery/createWebhookHandler';
import { registerOpenCommandsGauge } from './registerOpenCommandsGauge';
import { sendCommand } from './sendCommand';

let database: TestDatabase;
let pool: PgPool;
let admin: PgPool;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  pool = createPgPool(database.urls.comms);
  admin = createPgPool(database.adminUrl);
});

afterAll(async () => {
  await pool?.end();
  await admin?.end();
  await database?.drop();
});

async function send(tenantId: string, residency: string): Promise<string> {
  await admin.query('INSERT INTO tenants (tenant_id, residency) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING', [tenantId, residency]);
  const { commandId } = await sendCommand(pool, {
    commandId: randomUUID(),
    tenantId,
    type: NOTIFY_WEBHOOK,
    idempotencyKey: randomUUID(),
    correlationId: `corr-${randomUUID()}`,
    payload: { contactId: 'ops', url: 'http://127.0.0.1:9/', body: {} },
    maxAttempts: 3,
  });
  return commandId;
}

it("counts the region's open commands by state at scrape time, and no other region's", async () => {
  const home = `${database.namespace}-home`;
  await send(home, 'us');
  const stuck = await send(home, 'us');
  const done = await send(home, 'us');
  await send(`${database.namespace}-abroad`, 'eu');
  await admin.query(`UPDATE dispatch_commands SET state = 'troubleshooting' WHERE command_id = $1`, [stuck]);
  await admin.query(`UPDATE dispatch_commands SET state = 'succeeded' WHERE command_id = $1`, [done]);
  const registry = new Registry();
  registerOpenCommandsGauge(registry, pool, 'us');

  const metrics = await registry.metrics();
  expect(metrics).toContain('comms_open_commands{state="pending"} 1');
  expect(metrics).toContain('comms_open_commands{state="running"} 0');
  expect(metrics).toContain('comms_open_commands{state="troubleshooting"} 1');

  // Read at every scrape: the operator's cancel empties the queue without any worker running.
  await admin.query(`UPDATE dispatch_commands SET state = 'cancelled' WHERE command_id = $1`, [stuck]);
  expect(await registry.metrics()).toContain('comms_open_commands{state="troubleshooting"} 0');
});
