import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ensureDebianPackages, postgresBinDir, postgresBinDirPath } from './debianPackages';
import { ServiceStartError, spawnManaged, waitUntilHealthy, type ManagedProcess } from './managedProcess';
import { versions } from './versions';

const host = '127.0.0.1';
const osUser = 'postgres';
const superuser = 'postgres';

export interface PostgresOptions {
  port: number;
  /** Created if absent; an existing initialised cluster is reused (dev stack restarts keep data). */
  dataDir: string;
  logFile: string;
  /** For initdb / pg_basebackup and for the server to answer; default 60_000. */
  deadlineMs?: number;
  /**
   * Default true: `fsync=off` and `synchronous_commit=off` (and no syncing in
   * initdb / pg_basebackup). A crash of the machine can then lose or corrupt
   * data, which is fine for throw-away test clusters and several times faster
   * on writes; pass false for a dev stack whose data you want to keep.
   */
  fast?: boolean;
}

export interface RunningPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly superuser: 'postgres';
  readonly dataDir: string;
  readonly logFile: string;
  /** `postgres://postgres@127.0.0.1:<port>/<database>`; no password, pg_hba trusts loopback. */
  url(database?: string): string;
  readonly process: ManagedProcess;
  /** Fast shutdown (clients disconnected, no waiting for them); idempotent. */
  stop(): Promise<void>;
}

/** initdb (first time) and start a primary on 127.0.0.1:`port`, ready for streaming replicas. */
export async function startPostgres(options: PostgresOptions): Promise<RunningPostgres> {
  const server = await prepare('postgres', options);
  const { bin, dataDir, logFile } = server;
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const startedAt = Date.now();
    // --no-locale: C collation, so sort order in tests does not depend on the machine's locales.
    const args = ['-D', dataDir, '-U', superuser, '--no-locale', '--encoding=UTF8', '--no-instructions'];
    // pg_hba.conf is rewritten below; these only keep initdb from warning about local trust.
    args.push('--auth-local=peer', '--auth-host=trust');
    if (server.fast) args.push('--no-sync');
    await runAsPostgres(server, join(bin, 'initdb'), args);
    writeFileSync(join(dataDir, 'pg_hba.conf'), hbaConf());
    appendLog(logFile, `initdb took ${Date.now() - startedAt} ms`);
  }
  return startServer(server, {}, async (port) => {
    const rows = await query(port, "SELECT current_setting('data_directory') AS data_dir");
    return rows[0]?.['data_dir'] === dataDir;
  });
}

/**
 * A real streaming replica: `pg_basebackup -R -X stream` from `primary`, then
 * started on its own port. Healthy once it is in recovery and its WAL receiver
 * is streaming from the primary (not merely replaying the backup).
 */
export async function startPostgresReplica(primary: RunningPostgres, options: PostgresOptions): Promise<RunningPostgres> {
  const server = await prepare('postgres-replica', options);
  const { bin, dataDir, logFile } = server;
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const startedAt = Date.now();
    const args = ['-h', primary.host, '-p', String(primary.port), '-U', primary.superuser];
    args.push('-D', dataDir, '-R', '-X', 'stream', '--no-password');
    // The default spread checkpoint can make the backup wait for minutes on an idle primary.
    args.push('--checkpoint=fast');
    if (server.fast) args.push('--no-sync');
    await runAsPostgres(server, join(bin, 'pg_basebackup'), args);
    appendLog(logFile, `pg_basebackup took ${Date.now() - startedAt} ms`);
  } else if (!existsSync(join(dataDir, 'standby.signal'))) {
    throw new Error(`${dataDir} holds a cluster that is not a standby (no standby.signal); not starting it as a replica`);
  }
  const applicationName = conninfoValue(basename(dataDir));
  // Given on every start rather than trusting what -R wrote, so a dev-stack
  // replica follows its primary to a new port.
  const extraSettings = {
    primary_conninfo: `host=${primary.host} port=${primary.port} user=${primary.superuser} application_name=${applicationName}`,
  };
  return startServer(server, extraSettings, async (port) => {
    const rows = await query(
      port,
      `SELECT current_setting('data_directory') AS data_dir, pg_is_in_recovery() AS in_recovery,
              (SELECT status FROM pg_stat_wal_receiver) AS receiver`,
    );
    const row = rows[0];
    return row?.['data_dir'] === dataDir && row['in_recovery'] === true && row['receiver'] === 'streaming';
  });
}

/** `CREATE DATABASE`; the template must have no other connections while it is copied. */
export async function createDatabase(postgres: RunningPostgres, name: string, template?: string): Promise<void> {
  const sql = `CREATE DATABASE ${quoteIdent(name)}${template === undefined ? '' : ` TEMPLATE ${quoteIdent(template)}`}`;
  await query(postgres.port, sql);
}

interface PreparedServer {
  name: string;
  bin: string;
  dataDir: string;
  socketDir: string;
  port: number;
  logFile: string;
  fast: boolean;
  deadlineMs: number;
}

async function prepare(name: string, options: PostgresOptions): Promise<PreparedServer> {
  const major = versions.postgresMajor;
  await ensureDebianPackages([
    { binary: join(postgresBinDirPath(major), 'postgres'), pkg: `postgresql-${major}` },
    { binary: join(postgresBinDirPath(major), 'pg_basebackup'), pkg: `postgresql-client-${major}` },
    { binary: 'runuser', pkg: 'util-linux' },
  ]);
  const dataDir = resolve(options.dataDir);
  return {
    name,
    bin: postgresBinDir(major),
    dataDir,
    socketDir: prepareDirs(dataDir, postgresOsUser()),
    port: options.port,
    logFile: resolve(options.logFile),
    fast: options.fast ?? true,
    deadlineMs: options.deadlineMs ?? 60_000,
  };
}

async function startServer(
  server: PreparedServer,
  extraSettings: Readonly<Record<string, string>>,
  isOurServerReady: (port: number) => Promise<boolean>,
): Promise<RunningPostgres> {
  const { name, bin, dataDir, socketDir, port, logFile, fast, deadlineMs } = server;
  // Settings go on the command line rather than into postgresql.conf so that a
  // reused data dir, and a replica copied from the primary, always run with
  // what this call asked for (command-line settings win over the files).
  const settings: Record<string, string> = {
    port: String(port),
    listen_addresses: host,
    unix_socket_directories: socketDir,
    max_connections: '200',
    wal_level: 'replica',
    // A replica needs max_connections / max_wal_senders at least as high as
    // its primary's; both get the same values.
    max_wal_senders: '10',
    // Without a replication slot a lagging replica needs WAL kept around.
    wal_keep_size: '256MB',
    hot_standby: 'on',
    fsync: fast ? 'off' : 'on',
    synchronous_commit: fast ? 'off' : 'on',
    ...extraSettings,
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`])];
  const startedAt = Date.now();
  const managed = spawnManaged({
    name,
    command: join(bin, 'postgres'),
    args,
    logFile,
    cwd: dirname(dataDir),
    runAsUser: osUser,
  });
  const running: RunningPostgres = {
    host,
    port,
    superuser,
    dataDir,
    logFile,
    url: (database = 'postgres') => `postgres://${superuser}@${host}:${port}/${encodeURIComponent(database)}`,
    process: managed,
    stop: () => stopPostgres(managed, dataDir),
  };
  try {
    await waitUntilHealthy(name, logFile, () => isOurServerReady(port), deadlineMs, managed);
  } catch (error) {
    await running.stop();
    throw error;
  }
  appendLog(logFile, `start to healthy took ${Date.now() - startedAt} ms`);
  return running;
}

async function stopPostgres(managed: ManagedProcess, dataDir: string): Promise<void> {
  if (!managed.isRunning()) return;
  // SIGTERM (what ManagedProcess.stop sends) is PostgreSQL's "smart" shutdown,
  // which waits for every client to disconnect; SIGINT is "fast" shutdown.
  const postmasterPid = ownPostmasterPid(managed.pid, dataDir);
  if (postmasterPid !== undefined) {
    try {
      process.kill(postmasterPid, 'SIGINT');
    } catch {
      // Already gone.
    }
    const giveUpAt = Date.now() + 30_000;
    while (managed.isRunning() && Date.now() < giveUpAt) await sleep(50);
  }
  await managed.stop();
}

/**
 * The postmaster's pid from postmaster.pid, only if it is the child of our
 * `runuser`: a stale file from an earlier run could name an unrelated process.
 */
function ownPostmasterPid(runuserPid: number, dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may contain spaces, so split after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return ppid === runuserPid ? pid : undefined;
  } catch {
    return undefined;
  }
}

interface OsUser {
  uid: number;
  gid: number;
}

function postgresOsUser(): OsUser {
  let entry: string;
  try {
    entry = execFileSync('getent', ['passwd', osUser], { encoding: 'utf8' });
  } catch {
    throw new Error(`OS user '${osUser}' does not exist; it comes with Debian's postgresql-common package`);
  }
  const [, , uid, gid] = entry.trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Makes `dataDir` (0700, owned by postgres, as the server insists) and the
 * socket dir beside it, and checks that postgres can reach them: it cannot
 * run as root, so every ancestor must be traversable for it.
 */
function prepareDirs(dataDir: string, owner: OsUser): string {
  const parent = dirname(dataDir);
  mkdirSync(parent, { recursive: true });
  assertTraversable(parent, owner);
  const socketDir = join(parent, 'pg-sockets');
  mkdirSync(socketDir, { recursive: true });
  chownSync(socketDir, owner.uid, owner.gid);
  chmodSync(socketDir, 0o755);
  if (existsSync(dataDir)) {
    if (!existsSync(join(dataDir, 'PG_VERSION')) && readdirSync(dataDir).length > 0) {
      throw new Error(`${dataDir} exists, is not empty and is not a PostgreSQL data dir`);
    }
  } else {
    mkdirSync(dataDir);
  }
  chownSync(dataDir, owner.uid, owner.gid);
  chmodSync(dataDir, 0o700);
  return socketDir;
}

function assertTraversable(dir: string, owner: OsUser): void {
  for (let current = dir; ; current = dirname(current)) {
    const { mode, uid, gid } = statSync(current);
    const canSearch = uid === owner.uid ? mode & 0o100 : gid === owner.gid ? mode & 0o010 : mode & 0o001;
    if (!canSearch) {
      throw new Error(
        `The OS user '${osUser}' cannot enter ${current} (mode ${(mode & 0o777).toString(8)}), so PostgreSQL cannot ` +
          `reach its data dir under ${dir}. Put the data dir elsewhere (e.g. under os.tmpdir()) or chmod o+x ${current}.`,
      );
    }
    if (dirname(current) === current) return;
  }
}

function hbaConf(): string {
  return [
    '# Written by the test kit: local dev/test only, trust on loopback, nothing else.',
    '# TYPE  DATABASE     USER  ADDRESS       METHOD',
    'local   all          all                 peer',
    'local   replication  all                 peer',
    `host    all          all   ${host}/32  trust`,
    `host    replication  all   ${host}/32  trust`,
    '',
  ].join('\n');
}

/** Runs a one-shot tool as the postgres OS user with its output in the server's log file. */
async function runAsPostgres(server: PreparedServer, command: string, args: readonly string[]): Promise<void> {
  const { name, logFile, deadlineMs } = server;
  const cwd = dirname(server.dataDir);
  mkdirSync(dirname(logFile), { recursive: true });
  appendLog(logFile, `${command} ${args.join(' ')}`);
  const fd = openSync(logFile, 'a');
  // Own process group so that a timeout kills the tool, not only runuser.
  const child = spawn('runuser', ['-u', osUser, '--', command, ...args], {
    cwd,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  const timer = setTimeout(() => {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }, deadlineMs);
  try {
    const exitCode = await new Promise<number | null>((resolvePromise, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => resolvePromise(code));
    });
    if (exitCode !== 0) {
      throw new ServiceStartError(name, logFile, `${command} exited with ${exitCode ?? `a signal (deadline ${deadlineMs} ms?)`}`);
    }
  } finally {
    clearTimeout(timer);
  }
}

function appendLog(logFile: string, line: string): void {
  mkdirSync(dirname(logFile), { recursive: true });
  writeFileSync(logFile, `[devservices] ${line}\n`, { flag: 'a' });
}

async function query(port: number, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ host, port, user: superuser, database: 'postgres', connectionTimeoutMillis: 2_000 });
  // A server that dies mid-probe emits 'error' on the client; unhandled, it would crash the test process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    const result = await client.query<Record<string, unknown>>(sql);
    return result.rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function quoteIdent(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/** Quoting for a libpq keyword/value connection string. */
function conninfoValue(value: string): string {
  return `'${value.replace(/[\\']/g, (char) => `\\${char}`)}'`;
}
