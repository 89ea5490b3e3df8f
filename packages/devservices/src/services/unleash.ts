import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from './managedProcess';
import { createUnleashAdmin, type UnleashEndpoint } from './unleashAdmin';
import { versions } from './versions';

const host = '127.0.0.1';

export interface UnleashOptions {
  port: number;
  /** The Postgres primary Unleash keeps its state in; `database` is created on it if missing (superuser `postgres`, trusted on loopback). */
  postgres: { host: string; port: number };
  /** Default `unleash`. */
  database?: string;
  logFile: string;
  /** Flags to create in the default project when missing, with their state in the environment; existing flags keep theirs (dev-stack restarts). */
  flags: Readonly<Record<string, boolean>>;
  /**
   * Secrets of the admin and client (backend) API tokens. Unleash creates
   * them only in an empty token table, so a dev stack that restarts on its
   * data must pass the same ones every time; tests take fresh random ones.
   */
  tokenSecrets?: { admin: string; client: string };
  /** For migrations, the server to answer `/health` and the flags to be set up; default 120_000. */
  deadlineMs?: number;
}

export interface RunningUnleash extends UnleashEndpoint {
  readonly process: ManagedProcess;
  /** Idempotent; the state stays in Postgres. */
  stop(): Promise<void>;
}

/**
 * The dev stack's token secrets: its Unleash keeps its tokens across restarts,
 * so they must not change; the kill-switch drill targets the stack with them.
 * Loopback only, like the rest of the dev stack.
 */
export const devStackUnleashTokenSecrets = { admin: 'dev-stack-admin', client: 'dev-stack-client' } as const;

const project = 'default';
// Enabled in a fresh Unleash OSS install; backend tokens are scoped to one environment.
const environment = 'development';

// The package exports only its library entry (dist/lib/server-impl.js); its root is two folders up.
const serverPackageRoot = resolve(dirname(createRequire(import.meta.url).resolve('unleash-server')), '..', '..');
const serverPackageJson = join(serverPackageRoot, 'package.json');

/** The `unleash-server` package's own entry point (the one its `npm start` runs). */
const serverScript = join(serverPackageRoot, 'dist', 'server.js');

function assertPinnedVersion(): void {
  const installed = (JSON.parse(readFileSync(serverPackageJson, 'utf8')) as { version: string }).version;
  if (installed !== versions.unleash) {
    throw new Error(`unleash-server ${installed} is installed but the kit pins ${versions.unleash} (versions.ts); run npm ci`);
  }
}

/**
 * The real Unleash server (npm `unleash-server`, pinned in versions.ts) as a
 * child process on 127.0.0.1:`port`, with its own database on the given
 * Postgres. On start it migrates its schema, creates the API tokens from
 * `INIT_*_API_TOKENS` (its documented bootstrap), and we then create the
 * flags through the admin API, so what tests and the dev stack talk to is
 * configured exactly as an operator would configure it.
 */
export async function startUnleash(options: UnleashOptions): Promise<RunningUnleash> {
  assertPinnedVersion();
  const deadlineMs = options.deadlineMs ?? 120_000;
  const logFile = resolve(options.logFile);
  const database = options.database ?? 'unleash';
  await ensureDatabase(options.postgres, database);
  const secrets = options.tokenSecrets ?? { admin: randomBytes(16).toString('hex'), client: randomBytes(16).toString('hex') };
  // Unleash's token format: `<project>:<environment>.<secret>`, `*:*` for admin tokens.
  const adminToken = `*:*.${secrets.admin}`;
  const clientToken = `${project}:${environment}.${secrets.client}`;
  const managed = spawnManaged({
    name: 'unleash',
    command: process.execPath,
    args: [serverScript],
    logFile,
    cwd: dirname(logFile),
    env: {
      PATH: process.env['PATH'],
      // Unleash's own `npm start` pins the zone; its date handling assumes it.
      TZ: 'UTC',
      NODE_ENV: 'production',
      HTTP_HOST: host,
      HTTP_PORT: String(options.port),
      DATABASE_URL: `postgres://postgres@${options.postgres.host}:${options.postgres.port}/${database}`,
      DATABASE_SSL: 'false',
      DATABASE_POOL_MIN: '0',
      DATABASE_POOL_MAX: '4',
      INIT_ADMIN_API_TOKENS: adminToken,
      INIT_BACKEND_API_TOKENS: clientToken,
      LOG_LEVEL: 'warn',
      // Loopback only: no version check, no telemetry, no dial-out at all.
      CHECK_VERSION: 'false',
      SEND_TELEMETRY: 'false',
      GRACEFUL_SHUTDOWN_TIMEOUT: '500',
    },
  });
  const url = `http://${host}:${options.port}`;
  const running: RunningUnleash = {
    url,
    apiUrl: `${url}/api/`,
    adminToken,
    clientToken,
    project,
    environment,
    process: managed,
    stop: () => managed.stop(),
  };
  try {
    const startedAt = Date.now();
    await waitUntilHealthy('unleash', logFile, () => isHealthy(url), deadlineMs, managed);
    const admin = createUnleashAdmin(running);
    for (const [name, enabled] of Object.entries(options.flags)) {
      if (await admin.createFlag(name)) await admin.setFlag(name, enabled);
    }
    writeFileSync(logFile, `[devservices] start to healthy with flags set up took ${Date.now() - startedAt} ms\n`, { flag: 'a' });
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

async function isHealthy(url: string): Promise<boolean> {
  const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
  return response.ok;
}

async function ensureDatabase(postgres: { host: string; port: number }, database: string): Promise<void> {
  const client = new pg.Client({ host: postgres.host, port: postgres.port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (existing.rowCount === 0) await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}
