import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceStartError } from './managedProcess';
import { createDatabase, startPostgres, startPostgresReplica, type RunningPostgres } from './postgres';

// Real servers: initdb, pg_basebackup and start-up take seconds, and a fresh
// machine first installs postgresql-15 with apt.
const startTimeoutMs = 300_000;
const testTimeoutMs = 60_000;

describe('PostgreSQL primary and streaming replica (Debian packages)', () => {
  let root = '';
  let primary: RunningPostgres | undefined;
  let replica: RunningPostgres | undefined;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'testkit-pg-'));
    // mkdtemp makes it 0700 for root; the postgres OS user must be able to enter it.
    chmodSync(root, 0o755);
    primary = await startPostgres({
      port: await freePort(),
      dataDir: join(root, 'primary'),
      logFile: join(root, 'primary.log'),
    });
  }, startTimeoutMs);

  afterAll(async () => {
    await replica?.stop();
    await primary?.stop();
    if (root !== '') rmSync(root, { recursive: true, force: true });
  }, testTimeoutMs);

  it('starts a primary that takes a table and a row', async () => {
    const db = await connect(requireValue(primary).url());
    try {
      await db.query('CREATE TABLE regions (id int PRIMARY KEY, name text NOT NULL)');
      await db.query("INSERT INTO regions VALUES (1, 'eu-west')");
      const { rows } = await db.query('SELECT name FROM regions WHERE id = 1');
      expect(rows).toEqual([{ name: 'eu-west' }]);
      const settings = await db.query("SELECT current_setting('max_connections') AS max, current_setting('wal_level') AS wal");
      expect(settings.rows[0]).toEqual({ max: '200', wal: 'replica' });
    } finally {
      await db.end();
    }
  });

  it('creates a database that can be connected to', async () => {
    const running = requireValue(primary);
    await createDatabase(running, 'app_test');
    const db = await connect(running.url('app_test'));
    try {
      expect((await db.query('SELECT current_database() AS name')).rows).toEqual([{ name: 'app_test' }]);
    } finally {
      await db.end();
    }
  });

  it(
    'makes a replica with pg_basebackup that streams new writes and refuses its own',
    async () => {
      const source = requireValue(primary);
      replica = await startPostgresReplica(source, {
        port: await freePort(),
        dataDir: join(root, 'replica'),
        logFile: join(root, 'replica.log'),
      });
      expect(existsSync(join(replica.dataDir, 'standby.signal'))).toBe(true);

      const onPrimary = await connect(source.url());
      const onReplica = await connect(replica.url());
      try {
        expect((await onReplica.query('SELECT pg_is_in_recovery() AS r')).rows).toEqual([{ r: true }]);
        expect((await onReplica.query('SELECT name FROM regions WHERE id = 1')).rows).toEqual([{ name: 'eu-west' }]);

        // Written after the replica started, so it can only arrive by streaming.
        await onPrimary.query("INSERT INTO regions VALUES (2, 'us-east')");
        const seenAt = await pollUntil(async () => (await onReplica.query('SELECT name FROM regions WHERE id = 2')).rowCount === 1, 5_000);
        expect(seenAt).toBeLessThan(5_000);

        const senders = await onPrimary.query('SELECT application_name, state FROM pg_stat_replication');
        expect(senders.rows).toEqual([{ application_name: 'replica', state: 'streaming' }]);

        await expect(onReplica.query("INSERT INTO regions VALUES (3, 'ap-south')")).rejects.toMatchObject({
          code: '25006', // read_only_sql_transaction
          message: expect.stringContaining('read-only transaction'),
        });
      } finally {
        await onPrimary.end();
        await onReplica.end();
      }
    },
    testTimeoutMs,
  );

  it(
    'rejects with a ServiceStartError naming the log file when the port is taken, and leaves nothing running',
    async () => {
      const blocker = await listenOnFreePort();
      const port = (blocker.address() as { port: number }).port;
      const dataDir = join(root, 'blocked');
      const logFile = join(root, 'blocked.log');
      try {
        const error = await startPostgres({ port, dataDir, logFile, deadlineMs: 20_000 }).then(
          () => undefined,
          (reason: unknown) => reason,
        );
        expect(error).toBeInstanceOf(ServiceStartError);
        expect((error as ServiceStartError).message).toContain(logFile);
        expect(readFileSync(logFile, 'utf8')).toContain('Address already in use');
        expect(processesUsing(dataDir)).toEqual([]);
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    },
    testTimeoutMs,
  );

  it(
    'leaves nothing listening and no server process after stop()',
    async () => {
      const servers = [requireValue(replica), requireValue(primary)];
      for (const server of servers) await server.stop();
      for (const server of servers) {
        expect(server.process.isRunning()).toBe(false);
        expect(await isListening(server.port)).toBe(false);
        expect(processesUsing(server.dataDir)).toEqual([]);
      }
      // Stopping twice is harmless (afterAll does it again).
      await requireValue(primary).stop();
    },
    testTimeoutMs,
  );
});

function requireValue<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('an earlier step did not set this up');
  return value;
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Resolves with the elapsed ms once `check` is true; throws after `timeoutMs`. */
async function pollUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const startedAt = Date.now();
  while (Date.now() - startedAt < timeoutMs) {
    if (await check()) return Date.now() - startedAt;
    await sleep(50);
  }
  throw new Error(`not true within ${timeoutMs} ms`);
}

async function freePort(): Promise<number> {
  const server = await listenOnFreePort();
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function listenOnFreePort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Drop connections at once, so a health probe that reaches it fails fast.
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Pids of live processes whose command line mentions `dataDir` (postgres -D <dataDir>). */
function processesUsing(dataDir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dataDir);
      } catch {
        return false;
      }
    })
    .map(Number);
}
