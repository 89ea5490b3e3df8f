import { createPgPool, type PgPool } from '@coherence/platform';
import { NOTIFY_WEBHOOK, sendCommand } from '@coherence/comms';
import { createReceiver, type Receiver } from '@coherence/comms/testing';
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from '@coherence/devservices/managedProcess';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { waitFor } from './ingestProcesses';

/**
 * SIGKILL the comms worker process while it is in the middle of a webhook
 * delivery (the receiver holds the request open), start another one, and
 * check that the command is claimed again once its lease expires and
 * delivered, and that no command of a batch in flight is lost.
 */
const repoRoot = resolve(import.meta.dirname, '..');
// The smallest lease the config allows with a 3 s delivery timeout (COMMS_WEBHOOK_TIMEOUT_MS + LEASE_MARGIN_MS).
const LEASE_MS = 13_000;
let database: TestDatabase;
let admin: PgPool;
let app: PgPool;
let receiver: Receiver;
let logDir: string;
const running: ManagedProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  admin = createPgPool(database.adminUrl);
  app = createPgPool(database.urls.comms);
  logDir = mkdtempSync(join(tmpdir(), 'coherence-comms-crash-'));
  // The first delivery to /crash never gets an answer: the worker is killed while waiting for it.
  receiver = await createReceiver((path, n) => ((path === '/crash' || path === '/term') && n === 1 ? 'hang' : { status: 200 }));
});

afterAll(async () => {
  await Promise.all(running.map((child) => child.stop()));
  await receiver?.close();
  await app?.end();
  await admin?.end();
  await database?.drop();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

async function startWorker(name: string, env: Record<string, string> = {}): Promise<ManagedProcess> {
  const port = await freePort();
  const child = spawnManaged({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', join(repoRoot, 'subgraphs/comms/src/worker/main.ts')],
    cwd: repoRoot,
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      COMMS_WORKER_ADMIN_PORT: `${port}`,
      COMMS_DATABASE_URL: database.urls.comms,
      COMMS_SSRF_ALLOW: '127.0.0.1/32',
      COMMS_WORKER_CONCURRENCY: '4',
      COMMS_WEBHOOK_TIMEOUT_MS: '3000',
      COMMS_LEASE_MS: `${LEASE_MS}`,
      COMMS_POLL_MS: '250',
      COMMS_RETRY_BASE_MS: '100',
      ...env,
    },
    logFile: join(logDir, `${name}.log`),
  });
  running.push(child);
  await waitUntilHealthy(name, child.logFile, async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 60_000, child);
  return child;
}

/** Sends a command for `tenantId`, registered in the workers' region (us): they claim its tenants' commands only. */
async function send(tenantId: string, path: string) {
  await admin.query(`INSERT INTO tenants (tenant_id, residency) VALUES ($1, 'us') ON CONFLICT (tenant_id) DO NOTHING`, [tenantId]);
  return sendCommand(app, {
    commandId: randomUUID(),
    tenantId,
    type: NOTIFY_WEBHOOK,
    idempotencyKey: randomUUID(),
    correlationId: `crash-${randomUUID()}`,
    payload: { contactId: 'ops', url: receiver.url(path), body: { n: path } },
    maxAttempts: 5,
  });
}

it('delivers a command whose worker was SIGKILLed mid-delivery once its lease expires, and loses none', async () => {
  const tenantId = `${database.namespace}-crash`;
  const first = await startWorker('comms-worker-1');
  const [crash, ...bulk] = await Promise.all([
    send(tenantId, '/crash'),
    ...Array.from({ length: 40 }, (_, i) => send(tenantId, `/bulk-${i}`)),
  ]);
  await waitFor('the worker to be mid-delivery', async () => receiver.to('/crash').length === 1, 20_000, 20);

  process.kill(first.pid, 'SIGKILL');
  expect(await first.exited).toBeNull();
  const killedAt = Date.now();
  const held = await admin.query<{ state: string }>('SELECT state FROM dispatch_commands WHERE command_id = $1', [crash.commandId]);
  expect(held.rows[0]?.state).toBe('running');

  await startWorker('comms-worker-2');
  const ids = [crash.commandId, ...bulk.map((b) => b.commandId)];
  await waitFor(
    'every command to succeed',
    async () => {
      const { rows } = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM dispatch_commands WHERE command_id = ANY($1) AND state = 'succeeded'`,
        [ids],
      );
      return rows[0]!.n === ids.length;
    },
    60_000,
  );

  const redelivered = receiver.to('/crash');
  expect(redelivered).toHaveLength(2);
  expect(redelivered[1]!.headers['idempotency-key']).toBe(redelivered[0]!.headers['idempotency-key']);
  const { rows: trail } = await admin.query<{ action: string; from_state: string; to_state: string; reason: string; occurred_at: Date }>(
    'SELECT action, from_state, to_state, reason, occurred_at FROM dispatch_audit WHERE command_id = $1 ORDER BY audit_id',
    [crash.commandId],
  );
  expect(trail.map((a) => `${a.action}:${a.from_state ?? '-'}>${a.to_state}`)).toEqual([
    'send:->pending',
    'claim:pending>running',
    'claim:running>running',
    'complete:running>succeeded',
  ]);
  expect(trail[2]!.reason).toContain('lease expired');
  // Claimed again only after the lease the killed worker held had run out.
  expect(trail[2]!.occurred_at.getTime() - trail[1]!.occurred_at.getTime()).toBeGreaterThanOrEqual(LEASE_MS - 100);
  for (let i = 0; i < bulk.length; i += 1) expect(receiver.to(`/bulk-${i}`).length).toBeGreaterThanOrEqual(1);
  console.info(
    `[comms-crash] ${ids.length} commands delivered; /crash claimed again ${Math.round((trail[2]!.occurred_at.getTime() - killedAt) / 100) / 10} s after the kill`,
  );
}, 120_000);

it('releases the command in flight on SIGTERM and exits 0; the next worker delivers it', async () => {
  await Promise.all(running.splice(0).map((child) => child.stop()));
  const tenantId = `${database.namespace}-term`;
  const worker = await startWorker('comms-worker-3', { COMMS_DRAIN_MS: '500' });
  const { commandId } = await send(tenantId, '/term');
  await waitFor('the worker to be mid-delivery', async () => receiver.to('/term').length === 1, 20_000, 20);

  process.kill(worker.pid, 'SIGTERM');
  expect(await worker.exited).toBe(0);
  const { rows } = await admin.query<{ state: string; attempts: number }>(
    'SELECT state, attempts FROM dispatch_commands WHERE command_id = $1',
    [commandId],
  );
  expect(rows[0]).toEqual({ state: 'pending', attempts: 0 });
  const trail = await admin.query<{ action: string }>('SELECT action FROM dispatch_audit WHERE command_id = $1 ORDER BY audit_id', [
    commandId,
  ]);
  expect(trail.rows.map((a) => a.action)).toEqual(['send', 'claim', 'release']);

  await startWorker('comms-worker-4');
  await waitFor(
    'the released command to succeed',
    async () =>
      (await admin.query(`SELECT 1 FROM dispatch_commands WHERE command_id = $1 AND state = 'succeeded'`, [commandId])).rowCount === 1,
    30_000,
  );
  expect(receiver.to('/term')).toHaveLength(2);
  // Released, not left leased: the next claim is from pending, not a lease takeover.
  const after = await admin.query<{ action: string; from_state: string | null }>(
    'SELECT action, from_state FROM dispatch_audit WHERE command_id = $1 ORDER BY audit_id',
    [commandId],
  );
  expect(after.rows.map((a) => `${a.action}:${a.from_state ?? '-'}`)).toEqual([
    'send:-',
    'claim:pending',
    'release:running',
    'claim:pending',
    'complete:running',
  ]);
}, 120_000);
