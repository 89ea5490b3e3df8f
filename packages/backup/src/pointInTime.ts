import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chmod, cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';

const execFileAsync = promisify(execFile);

/**
 * Point-in-time backup of the whole Postgres cluster (docs/runbooks/backup-restore.md):
 *
 *   <dir>/base/<stamp>/       a base backup (pg_basebackup, plain format, its WAL streamed in)
 *   <dir>/base/<stamp>.json   when it started and finished
 *   <dir>/wal/                every WAL segment since, from pg_receivewal on a replication slot
 *
 * A restore copies the newest base backup that finished before the target
 * time into a fresh data directory and lets Postgres replay the archived WAL
 * up to that time, then promote. Neo4j is not backed up: it is rebuilt from
 * the restored ledger (`npm run graph:rebuild`).
 */

/** The replication slot that keeps the primary's WAL until the archiver has it. */
export const DEFAULT_SLOT = 'coherence_backup';

export interface BaseBackupRecord {
  stamp: string;
  startedAt: string;
  finishedAt: string;
}

export class BackupError extends Error {
  constructor(
    readonly code: 'NO_BASE_BACKUP_BEFORE_TARGET' | 'DATA_DIR_NOT_EMPTY' | 'TARGET_IN_FUTURE' | 'RECOVERY_TIMEOUT',
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'BackupError';
  }
}

const baseDir = (dir: string) => join(resolve(dir), 'base');
const walDir = (dir: string) => join(resolve(dir), 'wal');

/** A base backup of the cluster at `url` (a role with REPLICATION, e.g. the superuser) into `<dir>/base/`. */
export async function takeBaseBackup(options: { url: string; dir: string; binDir: string }): Promise<BaseBackupRecord> {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replaceAll(':', '-');
  const target = join(baseDir(options.dir), stamp);
  await mkdir(baseDir(options.dir), { recursive: true });
  // --checkpoint=fast: the default spread checkpoint can make an idle primary wait minutes.
  await execFileAsync(join(options.binDir, 'pg_basebackup'), [
    '-d',
    options.url,
    '-D',
    target,
    '-X',
    'stream',
    '--checkpoint=fast',
    '--no-password',
    '-l',
    `coherence ${stamp}`,
  ]);
  const record = { stamp, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString() };
  await writeFile(`${target}.json`, `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

export async function listBaseBackups(dir: string): Promise<BaseBackupRecord[]> {
  if (!existsSync(baseDir(dir))) return [];
  const files = (await readdir(baseDir(dir))).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(files.map(async (name) => JSON.parse(await readFile(join(baseDir(dir), name), 'utf8')) as BaseBackupRecord));
}

export interface WalArchiver {
  readonly process: ChildProcess;
  /** Resolves once every WAL byte up to `lsn` (default: the primary's current position) is on disk in the archive. */
  waitUntilArchived(lsn?: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Streams the cluster's WAL into `<dir>/wal/` with pg_receivewal, on a
 * replication slot (created if missing) so that the primary keeps every
 * segment until it is archived, and `--synchronous` so that what the
 * archiver acknowledged is on disk.
 */
export async function startWalArchiver(options: { url: string; dir: string; binDir: string; slot?: string }): Promise<WalArchiver> {
  const slot = options.slot ?? DEFAULT_SLOT;
  const bin = join(options.binDir, 'pg_receivewal');
  await mkdir(walDir(options.dir), { recursive: true });
  await execFileAsync(bin, ['-d', options.url, '--slot', slot, '--create-slot', '--if-not-exists', '--no-password']);
  const child = spawn(bin, ['-d', options.url, '-D', walDir(options.dir), '--slot', slot, '--synchronous', '--no-password'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Its own process group: a Ctrl-C in the terminal reaches the command, which stops the archiver itself.
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  return {
    process: child,
    async waitUntilArchived(lsn, timeoutMs = 30_000) {
      const client = new pg.Client({ connectionString: options.url });
      await client.connect();
      try {
        const target = lsn ?? (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
        const giveUpAt = Date.now() + timeoutMs;
        for (;;) {
          const { rows } = await client.query<{ done: boolean }>(
            `SELECT coalesce(bool_or(flush_lsn >= $1::pg_lsn), false) AS done FROM pg_stat_replication WHERE application_name = 'pg_receivewal'`,
            [target],
          );
          if (rows[0]!.done) return;
          if (child.exitCode !== null) throw new Error(`pg_receivewal exited (${child.exitCode}): ${stderr.trim()}`);
          if (Date.now() > giveUpAt) throw new Error(`WAL up to ${target} not archived within ${timeoutMs} ms: ${stderr.trim()}`);
          await sleep(50);
        }
      } finally {
        await client.end();
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface PreparedRestore {
  dataDir: string;
  /** The copy of the WAL archive recovery reads (`<dataDir>-wal`); delete it once the server was promoted. */
  walCopy: string;
  base: BaseBackupRecord;
  target: string;
}

/**
 * Makes `dataDir` a copy of the newest base backup that finished before
 * `target`, set to replay the archived WAL up to `target` and then promote.
 * Start a server on it (`startRestoredServer`, or pg_ctl) to run the recovery.
 */
export async function prepareRestore(options: {
  dir: string;
  target: Date;
  dataDir: string;
  /** OS user the server will run as, given the copied files (a restore run as root); default: whoever runs this. */
  owner?: string;
  now?: Date;
}): Promise<PreparedRestore> {
  const target = options.target.toISOString();
  if (options.target.getTime() > (options.now ?? new Date()).getTime()) {
    throw new BackupError('TARGET_IN_FUTURE', `${target} is in the future: recovery would replay all WAL and wait for more`);
  }
  const base = (await listBaseBackups(options.dir)).filter((record) => record.finishedAt < target).at(-1);
  if (!base) throw new BackupError('NO_BASE_BACKUP_BEFORE_TARGET', `no base backup in ${options.dir} finished before ${target}`);
  const dataDir = resolve(options.dataDir);
  if (existsSync(dataDir) && (await readdir(dataDir)).length > 0) {
    throw new BackupError('DATA_DIR_NOT_EMPTY', `${dataDir} is not empty; restore into a fresh directory`);
  }
  await cp(join(baseDir(options.dir), base.stamp), dataDir, { recursive: true });
  await rm(join(dataDir, 'standby.signal'), { force: true });
  await writeFile(join(dataDir, 'recovery.signal'), '');
  // The archive is copied beside the data dir, so that the server's OS user can read it (pg_receivewal
  // writes 0600 files as whoever runs it) and the archive itself stays as it is.
  const restoreWal = `${dataDir}-wal`;
  await cp(walDir(options.dir), restoreWal, { recursive: true });
  // The newest segment may still be pg_receivewal's `.partial` file: recovery to a time inside it needs it too.
  const restoreCommand = `cp "${restoreWal}/%f" "%p" 2>/dev/null || cp "${restoreWal}/%f.partial" "%p"`;
  const settings = {
    restore_command: restoreCommand,
    recovery_target_time: postgresTimestamp(options.target),
    recovery_target_action: 'promote',
    // A hot standby must run with max_connections and friends at least the source's, which were
    // perhaps given on its command line and are not in the backup; a restore takes no queries
    // before it is promoted anyway, so it does not need to be one.
    hot_standby: 'off',
  };
  const lines = Object.entries(settings).map(([key, value]) => `${key} = '${value.replaceAll("'", "''")}'`);
  await appendFile(join(dataDir, 'postgresql.auto.conf'), `\n# point-in-time restore (npm run restore)\n${lines.join('\n')}\n`);
  await chmod(dataDir, 0o700);
  if (options.owner !== undefined) {
    for (const path of [dataDir, restoreWal]) await execFileAsync('chown', ['-R', `${options.owner}:`, path]);
  }
  return { dataDir, walCopy: restoreWal, base, target };
}

/** Polls the restored server at `url` until recovery reached its target and it was promoted. */
export async function waitUntilPromoted(url: string, timeoutMs = 120_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      const { rows } = await client.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering');
      if (!rows[0]!.recovering) return;
    } catch {
      // Not accepting connections yet.
    } finally {
      await client.end().catch(() => undefined);
    }
    if (Date.now() > giveUpAt) throw new BackupError('RECOVERY_TIMEOUT', `${url} still in recovery after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** recovery_target_time wants Postgres' own format (`2026-11-26 17:35:53.469+00`), not ISO's `T…Z`. */
function postgresTimestamp(instant: Date): string {
  return `${instant.toISOString().replace('T', ' ').replace('Z', '')}+00`;
}
