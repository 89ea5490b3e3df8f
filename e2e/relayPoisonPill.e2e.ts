import type { SignalsAcceptedEvent } from '@coherence/contracts';
import { createPgPool, type PgPool } from '@coherence/platform';
import { appendOutboxEvents, signalsAcceptedEventFor } from '@coherence/testkit';
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { spawnManaged, type ManagedProcess } from '@coherence/devservices/managedProcess';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Issue 12, found item 1, as an operator meets it: the relay process with a
 * poison pill in its outbox between other tenants' and its own tenant's
 * events. Everything else is projected, the pill is quarantined after
 * RELAY_MAX_ATTEMPTS, `npm run outbox` lists it and, after the fix, puts it
 * back, and the relay projects it. `/readyz` stays 200 meanwhile (a
 * quarantined event is not a stall) and says 503 only while pending work
 * cannot move.
 */
const repoRoot = resolve(import.meta.dirname, '..');
const logDir = mkdtempSync(join(tmpdir(), 'relay-poison-'));
const run = promisify(execFile);

let database: TestDatabase;
let admin: PgPool;
let relay: ManagedProcess | undefined;
let relayPort: number;

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  admin = createPgPool(database.adminUrl);
  relayPort = await freePort();
  relay = spawnManaged({
    name: 'relay',
    command: process.execPath,
    args: ['--import', 'tsx', join(repoRoot, 'subgraphs/coherence/src/relay/main.ts')],
    cwd: repoRoot,
    logFile: join(logDir, 'relay.log'),
    env: {
      PATH: process.env['PATH'],
      RELAY_DATABASE_URL: database.urls.relay,
      RELAY_ADMIN_PORT: String(relayPort),
      RELAY_IDLE_POLL_MS: '50',
      RELAY_MAX_ATTEMPTS: '2',
      RELAY_RETRY_BASE_MS: '200',
      RELAY_STALL_SECONDS: '2',
      NEO4J_URL: services.neo4jBoltUrl,
      REDIS_URL: services.redisUrl,
      COHERENCE_CHANGED_CHANNEL: `${database.namespace}:coherence.changed`,
      LOG_LEVEL: 'warn',
    },
  });
  await until('the relay answers /readyz', async () => (await readyz()).status === 200, 60_000);
});

afterAll(async () => {
  await relay?.stop();
  await admin?.end();
  await database?.drop();
});

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  for (const giveUpAt = Date.now() + timeoutMs; !(await condition().catch(() => false)); await sleep(100)) {
    if (Date.now() > giveUpAt) throw new Error(`${what}: not within ${timeoutMs} ms; see ${relay?.logFile}`);
  }
}

async function readyz(): Promise<{ status: number; body: { checks: { name: string; ok: boolean }[] } }> {
  const response = await fetch(`http://127.0.0.1:${relayPort}/readyz`);
  return { status: response.status, body: (await response.json()) as { checks: { name: string; ok: boolean }[] } };
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${relayPort}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
}

/** `npm run outbox -- …`, as an operator runs it (the same file, without npm's banner). */
async function outboxCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/outbox.ts', ...args], {
      cwd: repoRoot,
      env: { PATH: process.env['PATH'], RELAY_DATABASE_URL: database.urls.relay },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const event = (tenantId: string, source: string, value: number) =>
  signalsAcceptedEventFor(tenantId, [{ source, value }], { correlationId: 'relay-poison-pill' });
const append = (events: readonly SignalsAcceptedEvent[]) => appendOutboxEvents(admin, events);

async function processed(ids: readonly string[]): Promise<boolean> {
  const { rows } = await admin.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM outbox WHERE id = ANY($1::bigint[]) AND processed_at IS NOT NULL',
    [ids],
  );
  return rows[0]!.n === ids.length;
}

describe('relay poison pill', () => {
  it('projects around a poison pill, quarantines it, and projects it after a fix and `npm run outbox -- retry`', async () => {
    const [a, b] = [`${database.namespace}-a`, `${database.namespace}-b`];
    const pill = event(a, 'pill', 0.1);
    // Injected failure (see createOutboxRelay.int.ts for why a trigger): marking this one event processed fails until the fix.
    await admin.query(`CREATE FUNCTION refuse_pill() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected failure for outbox event %', NEW.id; END $$`);
    await admin.query(`CREATE TRIGGER refuse_pill BEFORE UPDATE OF processed_at ON outbox FOR EACH ROW
      WHEN (NEW.message_id = '${pill.messageId}' AND NEW.processed_at IS NOT NULL) EXECUTE FUNCTION refuse_pill()`);
    const [a1, b1, pillId, a2, b2] = await append([
      event(a, 'api', 0.9),
      event(b, 'api', 0.8),
      pill,
      event(a, 'web', 0.7),
      event(b, 'web', 0.6),
    ]);

    await until('the other events are projected', () => processed([a1!, b1!, a2!, b2!]));
    const { rows: scores } = await admin.query(
      'SELECT tenant_id, status FROM coherence_scores WHERE tenant_id = ANY($1) ORDER BY tenant_id',
      [[a, b]],
    );
    expect(scores).toEqual([
      { tenant_id: a, status: 'WARN' },
      { tenant_id: b, status: 'WARN' },
    ]);
    await until(
      'the pill is quarantined',
      async () => (await admin.query('SELECT 1 FROM outbox_quarantine WHERE id = $1', [pillId])).rowCount === 1,
    );

    const quarantineLine = readFileSync(relay!.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"outbox event quarantined"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(quarantineLine).toEqual([
      expect.objectContaining({ outbox_id: pillId, tenant_id: a, attempts: 2, error: expect.stringContaining('injected failure') }),
    ]);
    expect(await metric('relay_events_quarantined_total')).toBe(1);
    expect(await metric('relay_outbox_quarantined')).toBe(1);
    expect(await metric('relay_stalled')).toBe(0);
    // A quarantined event is out of the way: nothing waits, the relay is ready.
    await sleep(2_500);
    expect((await readyz()).status).toBe(200);

    const listed = await outboxCli('list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('quarantined: 1');
    expect(listed.stdout).toMatch(new RegExp(`^  ${pillId}  tenant ${a}  attempts 2 `, 'm'));
    expect(listed.stdout).toContain('injected failure');
    expect(await outboxCli('drop', pillId!)).toMatchObject({ code: 2, stderr: expect.stringContaining('--yes') });
    expect(await outboxCli('retry', pillId!, '999999999')).toMatchObject({ code: 1, stderr: expect.stringContaining('999999999') });

    await admin.query('DROP TRIGGER refuse_pill ON outbox');
    expect(await outboxCli('retry', pillId!)).toMatchObject({ code: 0, stdout: `back in the outbox: ${pillId}\n` });
    await until('the pill is projected after the retry', () => processed([pillId!]));
    expect(await metric('relay_outbox_quarantined')).toBe(0);
    expect((await outboxCli('list')).stdout).toBe('quarantined: 0\nretrying: 0\n');
  }, 120_000);

  it('says 503 on /readyz and relay_stalled 1 while an event waits and the relay cannot take it', async () => {
    // Another transaction holds the event (a hung second relay, an operator's open transaction): claims skip it.
    // It is written as failed once and due in 0.5 s, so that the lock below is in place before the relay may take it.
    const stuck = event(`${database.namespace}-c`, 'api', 0.5);
    const { rows } = await admin.query<{ id: string }>(
      `INSERT INTO outbox (tenant_id, message_id, type, envelope, relay_attempts, relay_error, relay_first_failed_at, relay_last_failed_at, relay_available_at)
       VALUES ($1, $2, $3, $4, 1, 'an earlier failure', now(), now(), now() + interval '500 milliseconds') RETURNING id`,
      [stuck.tenantId, stuck.messageId, stuck.type, JSON.stringify(stuck)],
    );
    const waiting = rows[0]!.id;
    const holder = await admin.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE', [waiting]);
      await until('the relay says it is stalled', async () => (await readyz()).status === 503, 10_000);
      expect((await readyz()).body.checks).toContainEqual(expect.objectContaining({ name: 'progress', ok: false }));
      expect((await readyz()).body.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual(['progress']);
      expect(await metric('relay_stalled')).toBe(1);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    await until('the held event is projected', () => processed([waiting]));
    expect((await readyz()).status).toBe(200);
    expect(await metric('relay_stalled')).toBe(0);
  }, 60_000);
});
