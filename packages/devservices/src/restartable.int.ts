import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from './freePort';
import { startRestartable, type Restartable } from './restartable';
import { startPostgres, startPostgresReplica, type RunningPostgres } from './services/postgres';

// Servers of this file's own: stopping the global setup's would break the files that use them concurrently.
let root = '';
let primary: Restartable<RunningPostgres> | undefined;
let replica: Restartable<RunningPostgres> | undefined;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'devservices-restartable-'));
  // The postgres OS user must be able to enter it.
  chmodSync(root, 0o755);
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const started = await startRestartable(() =>
    startPostgres({ port: primaryPort, dataDir: join(root, 'primary'), logFile: join(root, 'primary.log') }),
  );
  primary = started;
  replica = await startRestartable(() =>
    startPostgresReplica(started.current!, { port: replicaPort, dataDir: join(root, 'replica'), logFile: join(root, 'replica.log') }),
  );
}, 300_000);

afterAll(async () => {
  await replica?.stop();
  await primary?.stop();
  if (root !== '') rmSync(root, { recursive: true, force: true });
}, 60_000);

async function query<T extends pg.QueryResultRow>(server: RunningPostgres, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: server.url() });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

it('starts a stopped primary again on its port with its committed rows, and the replica follows it', async () => {
  const { port } = primary!.current!;
  await query(primary!.current!, 'CREATE TABLE acknowledged (id int PRIMARY KEY); INSERT INTO acknowledged VALUES (1), (2)');
  await primary!.stop();
  expect(primary!.current).toBeUndefined();
  const again = await primary!.start();
  expect(again.port).toBe(port);
  expect(await query(again, 'SELECT count(*)::int AS n FROM acknowledged')).toEqual([{ n: 2 }]);
  // The replica reconnects to the restarted primary and streams what is written after it.
  await query(again, 'INSERT INTO acknowledged VALUES (3)');
  const deadline = Date.now() + 30_000;
  let onReplica = 0;
  while (Date.now() < deadline && onReplica !== 3) {
    onReplica = await query<{ n: number }>(replica!.current!, 'SELECT count(*)::int AS n FROM acknowledged').then(
      (rows) => rows[0]!.n,
      () => 0,
    );
    if (onReplica !== 3) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(onReplica).toBe(3);
}, 120_000);

it('stops the replica (its port refuses) and starts it again as a streaming standby with the same data', async () => {
  const { port } = replica!.current!;
  await replica!.stop();
  const refused = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2_000 });
  await expect(refused.connect()).rejects.toThrow(/ECONNREFUSED/);
  const again = await replica!.start();
  expect(again.port).toBe(port);
  expect(await query(again, 'SELECT pg_is_in_recovery() AS standby, (SELECT count(*)::int FROM acknowledged) AS n')).toEqual([
    { standby: true, n: 3 },
  ]);
}, 120_000);

it('starts only once when asked twice at the same time, and stop is idempotent', async () => {
  const [first, second] = await Promise.all([primary!.start(), primary!.start()]);
  expect(second).toBe(first);
  await Promise.all([replica!.stop(), replica!.stop()]);
  expect(replica!.current).toBeUndefined();
  expect((await replica!.restart()).port).toBeGreaterThan(0);
}, 120_000);
