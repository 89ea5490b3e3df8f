/**
 * Point-in-time backup and restore of the Postgres cluster (docs/runbooks/backup-restore.md):
 *
 *   npm run backup -- --dir D [--base-only] [--list]
 *   npm run restore -- --from D --to TIME --data-dir NEW [--owner USER]
 */
import { BackupError, listBaseBackups, prepareRestore, startWalArchiver, takeBaseBackup } from '@coherence/backup';
import { postgresBinDirPath } from '@coherence/devservices';
import { parseCommandLine, usageError } from './commandLine';

/** The stack's superuser: pg_basebackup and pg_receivewal need a role with REPLICATION. */
const LOCAL_STACK_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

const backupHelp = `usage: npm run backup -- --dir <backup dir> [options]

Continuous backup of the whole Postgres cluster: archives its WAL into
<dir>/wal (pg_receivewal on the replication slot coherence_backup) and takes
a base backup into <dir>/base, then keeps archiving until Ctrl-C / SIGTERM.
Neo4j is not backed up: it is rebuilt from the ledger (npm run graph:rebuild).

  --dir <path>           the backup directory (created if missing)
  --base-only            take a base backup and exit (e.g. nightly, beside a running archiver)
  --list                 list the base backups in --dir and exit
  --database-url <url>   a role with REPLICATION; default $BACKUP_DATABASE_URL, else ${LOCAL_STACK_URL}
  -h, --help             this help

Environment: PG_BIN_DIR (pg_basebackup, pg_receivewal), default ${postgresBinDirPath()}.`;

const restoreHelp = `usage: npm run restore -- --from <backup dir> --to <time> --data-dir <new dir> [options]

Point-in-time restore into a fresh data directory: copies the newest base
backup that finished before <time> and sets Postgres to replay the archived
WAL up to <time> and promote. Then start a server on it and rebuild the graph
(the steps are printed; docs/runbooks/backup-restore.md).

  --from <path>          the backup directory written by npm run backup
  --to <time>            ISO-8601 instant with a zone, e.g. 2026-11-26T17:35:00Z
  --data-dir <path>      where the restored cluster goes; must not exist or be empty
  --owner <os user>      give the files to this user (the server's); default postgres when run as root
  -h, --help             this help

Exit status: 0 prepared, 1 failed, 2 usage.`;

const command = process.argv[2];
const args = process.argv.slice(3);

const binDir = process.env['PG_BIN_DIR'] ?? postgresBinDirPath();

async function backup(): Promise<void> {
  const { values } = parseCommandLine(backupHelp, {
    args,
    options: { dir: { type: 'string' }, 'base-only': { type: 'boolean' }, list: { type: 'boolean' }, 'database-url': { type: 'string' } },
  });
  const dir = values['dir'];
  if (!dir) usageError(backupHelp, 'missing --dir');
  if (values['list']) {
    const bases = await listBaseBackups(dir);
    console.log(
      bases.length === 0 ? `no base backup in ${dir}` : bases.map((b) => `${b.stamp}  ${b.startedAt} → ${b.finishedAt}`).join('\n'),
    );
    return;
  }
  const url = values['database-url'] ?? process.env['BACKUP_DATABASE_URL'] ?? LOCAL_STACK_URL;
  if (values['base-only']) {
    const base = await takeBaseBackup({ url, dir, binDir });
    console.log(`base backup ${base.stamp}: ${base.startedAt} → ${base.finishedAt}`);
    return;
  }
  const archiver = await startWalArchiver({ url, dir, binDir });
  console.log(`archiving WAL into ${dir}/wal (slot coherence_backup)`);
  const base = await takeBaseBackup({ url, dir, binDir });
  console.log(`base backup ${base.stamp}: ${base.startedAt} → ${base.finishedAt}`);
  console.log('archiving until Ctrl-C / SIGTERM; restore to any time after the base backup finished');
  const failed = await new Promise<boolean>((resolveStop) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolveStop(false));
    archiver.process.once('exit', () => resolveStop(true));
  });
  if (failed)
    console.error(`pg_receivewal exited (${archiver.process.exitCode ?? archiver.process.signalCode}); WAL is not archived any more`);
  await archiver.stop();
  if (failed) {
    process.exitCode = 1;
    return;
  }
  console.log('stopped; the slot coherence_backup keeps WAL on the server until the next run (drop it if you stop backing up)');
}

async function restore(): Promise<void> {
  const { values } = parseCommandLine(restoreHelp, {
    args,
    options: { from: { type: 'string' }, to: { type: 'string' }, 'data-dir': { type: 'string' }, owner: { type: 'string' } },
  });
  const from = values['from'];
  const to = values['to'];
  const dataDir = values['data-dir'];
  if (!from || !to || !dataDir) usageError(restoreHelp, 'missing --from, --to or --data-dir');
  if (!/(Z|[+-]\d\d:\d\d)$/.test(to) || Number.isNaN(Date.parse(to)))
    usageError(restoreHelp, `INVALID_TIME: ${to} is not an ISO-8601 instant with a zone`);
  const owner = values['owner'] ?? (process.getuid?.() === 0 ? 'postgres' : undefined);
  const prepared = await prepareRestore({ dir: from, target: new Date(to), dataDir, ...(owner ? { owner } : {}) });
  console.log(`prepared ${prepared.dataDir} from base backup ${prepared.base.stamp}, to replay WAL up to ${prepared.target}

next:
  1. start Postgres on it (as ${owner ?? 'this user'}), e.g.
       pg_ctl -D ${prepared.dataDir} -l ${prepared.dataDir}.log -o "-p 5433" start
     it replays the WAL, stops at ${prepared.target}, promotes and logs "archive recovery complete".
  2. point the services' *_DATABASE_URL at it and check a few tenants' latest signals.
  3. rebuild the graph from the restored ledger: delete the graph, then
       REBUILD_DATABASE_URL=postgres://rebuild_app@127.0.0.1:5433/coherence npm run graph:rebuild
  4. delete ${prepared.walCopy} (the WAL copy recovery read).`);
}

try {
  if (command === 'backup') await backup();
  else if (command === 'restore') await restore();
  else usageError(`${backupHelp}\n\n${restoreHelp}`, 'the commands are backup and restore');
} catch (error) {
  console.error(error instanceof BackupError ? error.message : `failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
