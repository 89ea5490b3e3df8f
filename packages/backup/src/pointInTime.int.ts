import { freePort, postgresBinDirPath, startPostgres, type RunningPostgres } from '@coherence/devservices';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupError, prepareRestore, startWalArchiver, takeBaseBackup, waitUntilPromoted, type WalArchiver } from './pointInTime';

/**
 * Point-in-time recovery on real clusters: a writer commits one row every few
 * milliseconds while a base backup is taken and the WAL archived; the cluster
 * restored to an instant T holds every row whose COMMIT returned before T and
 * none whose transaction began after T.
 */
const binDir = postgresBinDirPath();
let root = '';
let source: RunningPostgres | undefined;
let restored: RunningPostgres | undefined;
let archiver: WalArchiver | undefined;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'coherence-backup-'));
  // mkdtemp makes it 0700 for root; the postgres OS user must be able to enter it.
  chmodSync(root, 0o755);
  // fast: false — a backup of a cluster that does not fsync proves nothing about one that does.
  source = await startPostgres({ port: await freePort(), dataDir: join(root, 'source'), logFile: join(root, 'source.log'), fast: false });
  await query(source.url(), 'CREATE TABLE acknowledged (id int PRIMARY KEY, began_at timestamptz NOT NULL)');
}, 300_000);

afterAll(async () => {
  await archiver?.stop();
  await restored?.stop();
  await source?.stop();
  if (root !== '') rmSync(root, { recursive: true, force: true });
}, 60_000);

async function query<T extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** Commits rows one per transaction until stopped; records when each began and when its COMMIT returned. */
function startWriter(url: string) {
  const rows: { id: number; beganAt: number; committedAt: number }[] = [];
  let stopping = false;
  const done = (async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    for (let id = 1; !stopping; id += 1) {
      const beganAt = Date.now();
      await client.query('INSERT INTO acknowledged (id, began_at) VALUES ($1, $2)', [id, new Date(beganAt)]);
      rows.push({ id, beganAt, committedAt: Date.now() });
      await sleep(5);
    }
    await client.end();
  })();
  return {
    rows,
    async stop() {
      stopping = true;
      await done;
    },
  };
}

describe('point-in-time backup and restore', () => {
  const dir = () => join(root, 'backups');

  it('refuses a target before any base backup finished, and one in the future', async () => {
    await expect(prepareRestore({ dir: dir(), target: new Date(), dataDir: join(root, 'none') })).rejects.toMatchObject({
      code: 'NO_BASE_BACKUP_BEFORE_TARGET',
    });
    await expect(prepareRestore({ dir: dir(), target: new Date(Date.now() + 60_000), dataDir: join(root, 'none') })).rejects.toBeInstanceOf(
      BackupError,
    );
  });

  it('restores to an instant under load: every row acknowledged before it, none begun after it', async () => {
    const url = source!.url();
    archiver = await startWalArchiver({ url, dir: dir(), binDir });
    const writer = startWriter(url);
    await sleep(300);
    const base = await takeBaseBackup({ url, dir: dir(), binDir });
    await sleep(700);
    const target = new Date();
    await sleep(700);
    await writer.stop();
    await archiver.waitUntilArchived();

    const before = writer.rows.filter((row) => row.committedAt < target.getTime());
    const after = writer.rows.filter((row) => row.beganAt > target.getTime());
    expect(before.length).toBeGreaterThan(20);
    expect(after.length).toBeGreaterThan(20);

    const prepared = await prepareRestore({ dir: dir(), target, dataDir: join(root, 'restored'), owner: 'postgres' });
    expect(prepared.base).toEqual(base);
    restored = await startPostgres({ port: await freePort(), dataDir: prepared.dataDir, logFile: join(root, 'restored.log'), fast: false });
    await waitUntilPromoted(restored.url());

    const ids = new Set((await query<{ id: number }>(restored.url(), 'SELECT id FROM acknowledged')).map((row) => row.id));
    expect(before.filter((row) => !ids.has(row.id))).toEqual([]);
    expect(after.filter((row) => ids.has(row.id))).toEqual([]);
    // It is a primary now, on a new timeline: it takes writes.
    await query(restored.url(), 'INSERT INTO acknowledged (id, began_at) VALUES (-1, now())');
  }, 180_000);

  it('refuses to restore into a directory that is not empty', async () => {
    await expect(prepareRestore({ dir: dir(), target: new Date(), dataDir: join(root, 'restored') })).rejects.toMatchObject({
      code: 'DATA_DIR_NOT_EMPTY',
    });
  });
});
