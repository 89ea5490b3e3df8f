/**
 * The `backup-restore` drill (docs/runbooks/backup-restore.md, issue 17 item 4): a Postgres primary of
 * its own (durable settings, as in production) behind the real HTTP ingest, steady signal pushes; WAL
 * archiving and a base backup taken under that load; an instant T chosen after the backup while the load
 * goes on; the primary then lost, and the time to recover measured: a point-in-time restore to T into a
 * fresh data directory, Postgres started on it, the graph rebuilt from the restored ledger. It proves every
 * signal acknowledged (202) before T is in the restored ledger and none sent after T is, that the rebuilt
 * graph and scores are what the restored ledger implies, and reports RPO and RTO as measured.
 *
 *   npm run drill -- backup-restore [--duration 60s] [--rate 50] [--json]
 */
import { DEV_ISSUER, ensureDevInternalKeys, ensureDevKeys, mintDevToken, SCOPES } from '@coherence/auth';
import { prepareRestore, startWalArchiver, takeBaseBackup, waitUntilPromoted } from '@coherence/backup';
import { createGraphRebuild, createNeo4jDriver, ensureGraphSchema } from '@coherence/coherence';
import {
  freePort,
  postgresBinDirPath,
  startNeo4j,
  startPostgres,
  startRedis,
  type RunningNeo4j,
  type RunningRedis,
} from '@coherence/devservices';
import { createIngestService, readIngestConfig } from '@coherence/ingest';
import { migrateDatabase } from '@coherence/migrations';
import { createLogger, createPgPool } from '@coherence/platform';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseCommandLine } from '../commandLine';
import { parseDuration } from './commandLineValues';
import { checkLines, verdict } from '../bench/support/checks';
import { describeMachine, watchMachine, writeReport, type MachineReport } from '../bench/support/report';
import { checkRebuiltGraph } from './backupRestore/checkRebuiltGraph';
import { reconcileAtTarget, type TargetReconciliation } from './backupRestore/reconcileAtTarget';
import { startSignalPushes } from './backupRestore/signalPushes';
import { sampleWalArchiveLag, summarizeWalArchiveLag, type WalArchiveLag } from './backupRestore/walArchiveLag';

export interface BackupRestoreDrillOptions {
  /** From the first push to the last. T falls after the base backup, half-way through the load left then. */
  durationMs: number;
  /** Pushes per second (one signal each); default 50. */
  ratePerSecond?: number;
  /** For ingest's rate limiter; the drill's tenants are its only keys there. */
  redisUrl: string;
  /** Where the graph is rebuilt; the drill's tenants must have no graph there yet. */
  neo4jBoltUrl: string;
  /** Tenant ids start with it; default `drill-<random>`. */
  tenantPrefix?: string;
  /** Progress, one line each. */
  log?: (line: string) => void;
}

export interface BackupRestoreReport {
  drill: 'backup-restore';
  measuredAt: string;
  machine: MachineReport;
  durationMs: number;
  ratePerSecond: number;
  tenants: string[];
  timeline: {
    loadStartedAt: string;
    baseBackupStartedAt: string;
    baseBackupFinishedAt: string;
    target: string;
    loadStoppedAt: string;
  };
  pushes: { total: number; byStatus: Record<string, number> };
  backup: { baseBackupMs: number; baseBackupBytes: number; walArchivedBytes: number };
  reconciliation: TargetReconciliation;
  rpo: {
    /**
     * How far the WAL archive was behind the primary while the load ran: what losing the primary with its disk
     * would lose. `whole` includes the archiver's start and the base backup, around which it catches up (its
     * bytes then run into megabytes); `afterBaseBackup` is the steady state.
     */
    walArchiveLag: { whole: WalArchiveLag; afterBaseBackup: WalArchiveLag };
    /** T minus the newest `received_at` in the restored ledger. */
    newestRestoredBeforeTargetMs: number | null;
  };
  /** `graphSchemaMs`: the constraints and indexes of an empty Neo4j (the relay's start makes them too); then the rebuild proper. */
  rto: { prepareMs: number; startAndRecoverMs: number; graphSchemaMs: number; graphRebuildMs: number; totalMs: number };
  rebuild: { tenants: number; signals: number; checks: Awaited<ReturnType<typeof checkRebuiltGraph>> };
  checks: Record<string, boolean>;
  pass: boolean;
  /** Kept only when the drill failed: the clusters, the backup and the servers' logs. */
  workDir: string | null;
}

const DATABASE = 'coherence';
const TENANTS = ['a', 'b', 'c'];
/** The load before the backup starts: enough for it to be "under load", short enough for a 20 s drill. */
const WARM_UP_MAX_MS = 5_000;
/** Load after the base backup, at least: T is half-way through it, so both sides of T have pushes. */
const AFTER_BACKUP_MIN_MS = 4_000;

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** Runs the drill (a few tens of seconds more than `durationMs`) and returns its report; writes nothing under reports/. */
export async function runBackupRestoreDrill(options: BackupRestoreDrillOptions): Promise<BackupRestoreReport> {
  const log = options.log ?? (() => undefined);
  const ratePerSecond = options.ratePerSecond ?? 50;
  const machine = watchMachine();
  const prefix = options.tenantPrefix ?? `drill-${randomBytes(4).toString('hex')}`;
  const tenantIds = TENANTS.map((name) => `${prefix}-${name}`);
  const workDir = mkdtempSync(join(tmpdir(), 'coherence-drill-backup-'));
  // The postgres OS user runs the servers and must be able to enter it (mkdtemp makes it 0700).
  chmodSync(workDir, 0o755);
  const backupDir = join(workDir, 'backup');
  const binDir = postgresBinDirPath();
  // Closed newest first whatever happens; every one of them may already have been closed by the steps below.
  const closers: (() => Promise<unknown>)[] = [];
  let passed = false;
  try {
    log('starting the drill primary (durable settings) and migrating it');
    const source = await startPostgres({
      port: await freePort(),
      dataDir: join(workDir, 'source'),
      logFile: join(workDir, 'source.log'),
      // fsync and synchronous commit on: a 202 then means what it means in production.
      fast: false,
    });
    closers.push(() => source.stop());
    const sourceAdmin = createPgPool(source.url(), { max: 1 });
    await sourceAdmin.query(`CREATE DATABASE ${DATABASE}`);
    await sourceAdmin.end();
    await migrateDatabase(source.url(DATABASE));
    const tenantsPool = createPgPool(source.url(DATABASE), { max: 1 });
    for (const tenantId of tenantIds) await tenantsPool.query(`INSERT INTO tenants (tenant_id, residency) VALUES ($1, 'us')`, [tenantId]);
    await tenantsPool.end();

    const keys = await ensureDevKeys(join(workDir, 'keys'));
    const internalKeys = await ensureDevInternalKeys(join(workDir, 'keys'));
    const ingest = await createIngestService(
      readIngestConfig({
        INGEST_DATABASE_URL: `postgres://ingest_app@${source.host}:${source.port}/${DATABASE}`,
        INGEST_REGION: 'us',
        INGEST_PORT: '0',
        INGEST_SUBGRAPH_PORT: '0',
        INGEST_JWKS: keys.jwksPath,
        INGEST_TOKEN_ISSUERS: DEV_ISSUER,
        INGEST_REDIS_URL: options.redisUrl,
        SUBGRAPH_INTERNAL_JWKS: internalKeys.jwksPath,
      }),
      createLogger('drill-ingest', 'silent'),
    );
    await ingest.app.listen({ port: 0, host: '127.0.0.1' });
    let ingestOpen = true;
    const closeIngest = async () => {
      if (!ingestOpen) return;
      ingestOpen = false;
      await ingest.close();
    };
    closers.push(closeIngest);
    const ingestUrl = `http://127.0.0.1:${(ingest.app.server.address() as AddressInfo).port}`;
    const tenants = await Promise.all(
      tenantIds.map(async (tenantId) => ({
        tenantId,
        token: await mintDevToken(keys.privateKeyPath, {
          sub: 'backup-drill',
          tenant: tenantId,
          scopes: [SCOPES.writeSelf],
          residency: ['us'],
        }),
      })),
    );

    log(`pushing ${ratePerSecond} signals/s to ${ingestUrl} for ${tenantIds.join(', ')}`);
    const loadStartedAt = Date.now();
    const load = startSignalPushes({ ingestUrl, tenants, ratePerSecond });
    closers.push(() => load.stop());
    await sleep(Math.min(WARM_UP_MAX_MS, options.durationMs / 4));

    log('archiving WAL (pg_receivewal) and taking a base backup (pg_basebackup) under load');
    const archiver = await startWalArchiver({ url: source.url(), dir: backupDir, binDir });
    closers.push(() => archiver.stop());
    const walLag = sampleWalArchiveLag(source.url());
    closers.push(() => walLag.stop());
    const base = await takeBaseBackup({ url: source.url(), dir: backupDir, binDir });
    const afterBackupMs = Math.max(AFTER_BACKUP_MIN_MS, options.durationMs - (Date.now() - loadStartedAt));
    log(
      `base backup ${base.stamp} done; T in ${Math.round(afterBackupMs / 2)} ms, load goes on ${Math.round(afterBackupMs / 2)} ms past it`,
    );
    await sleep(afterBackupMs / 2);
    const target = new Date();
    await sleep(afterBackupMs / 2);

    const pushes = await load.stop();
    const loadStoppedAt = Date.now();
    const lagSamples = await walLag.stop();
    await closeIngest();
    await archiver.waitUntilArchived();
    await archiver.stop();
    log(`load stopped: ${pushes.length} pushes; WAL archived; the primary is lost now`);
    await source.stop();

    const rtoStartedAt = Date.now();
    const prepared = await prepareRestore({
      dir: backupDir,
      target,
      dataDir: join(workDir, 'restored'),
      ...(process.getuid?.() === 0 ? { owner: 'postgres' } : {}),
    });
    const preparedAt = Date.now();
    const restored = await startPostgres({
      port: await freePort(),
      dataDir: prepared.dataDir,
      logFile: join(workDir, 'restored.log'),
      fast: false,
    });
    closers.push(() => restored.stop());
    await waitUntilPromoted(restored.url());
    const promotedAt = Date.now();
    log(`restored to ${target.toISOString()} and promoted; rebuilding the graph from the restored ledger`);
    const driver = createNeo4jDriver(options.neo4jBoltUrl);
    closers.push(() => driver.close());
    const rebuildPool = createPgPool(`postgres://rebuild_app@${restored.host}:${restored.port}/${DATABASE}`, { max: 1 });
    closers.push(() => rebuildPool.end());
    await ensureGraphSchema(driver);
    const schemaAt = Date.now();
    const rebuild = createGraphRebuild({ pool: rebuildPool, driver, windowHours: 24 });
    const rebuiltTenants = await rebuild.tenants();
    const rebuilt = await rebuild.run(rebuiltTenants);
    const rebuiltAt = Date.now();

    const restoredAdmin = createPgPool(restored.url(DATABASE), { max: 1 });
    closers.push(() => restoredAdmin.end());
    const { rows } = await restoredAdmin.query<{ signal_id: string }>('SELECT signal_id FROM signal_ledger');
    const { rows: newest } = await restoredAdmin.query<{ at: Date | null }>('SELECT max(received_at) AS at FROM signal_ledger');
    const reconciliation = reconcileAtTarget(pushes, target.getTime(), new Set(rows.map((row) => row.signal_id)));
    const rebuildChecks = await checkRebuiltGraph(restoredAdmin, driver, tenantIds);

    const byStatus: Record<string, number> = {};
    for (const push of pushes) byStatus[push.status] = (byStatus[push.status] ?? 0) + 1;
    const checks = {
      'signals acknowledged before T: some': reconciliation.acknowledgedBeforeTarget > 0,
      'signals sent after T: some': reconciliation.startedAfterTarget > 0,
      'acknowledged before T, all restored (lost = 0)': reconciliation.lost === 0,
      'sent after T, none restored': reconciliation.presentAfterTarget === 0,
      'restored ledger holds only the drill’s pushes': reconciliation.unknownRestored === 0,
      'graph rebuilt for every tenant': isSameSet(rebuiltTenants, tenantIds) && rebuilt.every((tenant) => tenant.finished),
      'rebuilt graph and scores match the restored ledger': rebuildChecks.every((check) => check.matches),
    };
    passed = Object.values(checks).every(Boolean);
    return {
      drill: 'backup-restore',
      measuredAt: new Date().toISOString(),
      machine: machine.report(),
      durationMs: loadStoppedAt - loadStartedAt,
      ratePerSecond,
      tenants: tenantIds,
      timeline: {
        loadStartedAt: new Date(loadStartedAt).toISOString(),
        baseBackupStartedAt: base.startedAt,
        baseBackupFinishedAt: base.finishedAt,
        target: target.toISOString(),
        loadStoppedAt: new Date(loadStoppedAt).toISOString(),
      },
      pushes: { total: pushes.length, byStatus },
      backup: {
        baseBackupMs: Date.parse(base.finishedAt) - Date.parse(base.startedAt),
        baseBackupBytes: await directoryBytes(join(backupDir, 'base', base.stamp)),
        walArchivedBytes: await directoryBytes(join(backupDir, 'wal')),
      },
      reconciliation,
      rpo: {
        walArchiveLag: {
          whole: summarizeWalArchiveLag(lagSamples),
          afterBaseBackup: summarizeWalArchiveLag(lagSamples, Date.parse(base.finishedAt)),
        },
        newestRestoredBeforeTargetMs: newest[0]?.at ? target.getTime() - newest[0].at.getTime() : null,
      },
      rto: {
        prepareMs: preparedAt - rtoStartedAt,
        startAndRecoverMs: promotedAt - preparedAt,
        graphSchemaMs: schemaAt - promotedAt,
        graphRebuildMs: rebuiltAt - schemaAt,
        totalMs: rebuiltAt - rtoStartedAt,
      },
      rebuild: {
        tenants: rebuilt.length,
        signals: rebuilt.reduce((sum, tenant) => sum + tenant.signals, 0),
        checks: rebuildChecks,
      },
      checks,
      pass: passed,
      workDir: null,
    };
  } finally {
    for (const close of closers.reverse()) await close().catch((error: unknown) => log(`teardown: ${String(error)}`));
    if (passed) rmSync(workDir, { recursive: true, force: true });
    else log(`kept ${workDir} (clusters, backup, logs) for a look`);
  }
}

const isSameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && b.every((item) => a.includes(item));

/** The stdout summary: what was proven, RPO and RTO. */
export function formatBackupRestoreReport(report: BackupRestoreReport, reportPath: string): string {
  const r = report.reconciliation;
  const lag = report.rpo.walArchiveLag;
  const rows: [string, string][] = [
    [
      'load',
      `${report.pushes.total} pushes in ${(report.durationMs / 1_000).toFixed(1)} s; by status ${JSON.stringify(report.pushes.byStatus)}`,
    ],
    [
      'base backup',
      `${report.backup.baseBackupMs} ms, ${mib(report.backup.baseBackupBytes)}; WAL archived ${mib(report.backup.walArchivedBytes)}`,
    ],
    ['target T', report.timeline.target],
    ['acknowledged before T', `${r.acknowledgedBeforeTarget}, lost ${r.lost}${r.lost > 0 ? ` (e.g. ${r.lostIds.join(', ')})` : ''}`],
    [
      'sent after T',
      `${r.startedAfterTarget}, restored ${r.presentAfterTarget}${r.presentAfterTarget > 0 ? ` (e.g. ${r.presentAfterTargetIds.join(', ')})` : ''}`,
    ],
    ['in flight at T', `${r.inFlightAtTarget} (either side is right), restored ${r.inFlightPresent}`],
    ['refused before T', `${r.refusedBeforeTarget}, restored ${r.refusedBeforeTargetPresent}`],
    [
      'RPO',
      `WAL archive behind the primary: flush lag max ${lag.whole.maxFlushLagMs.toFixed(1)} ms (mean ${lag.whole.meanFlushLagMs.toFixed(1)} ms, ` +
        `${lag.whole.samples} samples; after the base backup max ${lag.afterBaseBackup.maxFlushLagMs.toFixed(1)} ms, ` +
        `${lag.afterBaseBackup.maxBytes} bytes); last 202 before T ${r.lastAcknowledgementBeforeTargetMs ?? '-'} ms before it, ` +
        `newest restored row ${report.rpo.newestRestoredBeforeTargetMs ?? '-'} ms before it`,
    ],
    [
      'RTO',
      `${report.rto.totalMs} ms = prepare ${report.rto.prepareMs} + start & replay ${report.rto.startAndRecoverMs} + ` +
        `graph schema ${report.rto.graphSchemaMs} + graph rebuild ${report.rto.graphRebuildMs} ` +
        `(${report.rebuild.signals} signals, ${report.rebuild.tenants} tenants)`,
    ],
    ['machine', describeMachine(report.machine)],
    ['report', reportPath],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return [
    `backup-restore drill: ${verdict(report.pass)}`,
    ...rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`),
    checkLines(report.checks),
  ].join('\n');
}

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;

const usage = `usage: npm run drill -- backup-restore [--duration 60s] [--rate 50] [--json]

Starts a Postgres primary of its own behind the HTTP ingest (and a Redis and a Neo4j), pushes signals
steadily, archives WAL and takes a base backup under that load, picks an instant T after it while the
load goes on, then restores to T into a fresh data directory, starts Postgres on it and rebuilds the
graph. Proves every signal acknowledged before T is restored and none sent after T; measures RPO and
RTO. Prints a summary (or the report with --json), writes reports/drill-backup-restore.json, exits 1
when a check failed.

  --duration D   load time, e.g. 20s, 2m, 1500ms (default 60s)
  --rate N       pushes per second, one signal each (default 50)
  --json         print the report as JSON instead of the summary
  -h, --help     this help`;

/**
 * The command line (`argv` without node and the script): starts a Redis and a Neo4j of its own beside the
 * drill's Postgres, runs the drill, prints and writes the report. Resolves to the exit status.
 */
export async function backupRestoreMain(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandLine(usage, {
    args: [...argv],
    options: { duration: { type: 'string', default: '60s' }, rate: { type: 'string', default: '50' }, json: { type: 'boolean' } },
  });
  const durationMs = parseDuration(values.duration);
  const ratePerSecond = Number(values.rate);
  if (durationMs === null || durationMs < 1_000 || !(ratePerSecond > 0)) {
    console.error(`--duration must be at least 1s and --rate a positive number\n\n${usage}`);
    return 2;
  }
  const say = (line: string) => console.error(`[drill] ${line}`);
  const serversDir = mkdtempSync(join(tmpdir(), 'coherence-drill-servers-'));
  say('starting a Redis and a Neo4j for the drill');
  const started = await Promise.allSettled([
    freePort().then((port) => startRedis({ port, logFile: join(serversDir, 'redis.log') })),
    freePort().then((boltPort) => startNeo4j({ boltPort, dataDir: join(serversDir, 'neo4j'), logFile: join(serversDir, 'neo4j.log') })),
  ]);
  try {
    const [redis, neo4j] = started.map((result) => {
      if (result.status === 'rejected') throw result.reason;
      return result.value;
    }) as [RunningRedis, RunningNeo4j];
    const report = await runBackupRestoreDrill({ durationMs, ratePerSecond, redisUrl: redis.url, neo4jBoltUrl: neo4j.boltUrl, log: say });
    const reportPath = writeReport('drill-backup-restore.json', report);
    console.log(values.json ? JSON.stringify(report, null, 2) : formatBackupRestoreReport(report, reportPath));
    return report.pass ? 0 : 1;
  } catch (error) {
    say(`failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await Promise.allSettled(started.map((result) => (result.status === 'fulfilled' ? result.value.stop() : undefined)));
    rmSync(serversDir, { recursive: true, force: true });
  }
}
