/**
 * The servers a benchmark or drill runs against, from the dev services kit: Postgres
 * (primary + replica), Redis, Neo4j, Kafka and Unleash on free ports under a
 * fresh temp dir, the template database migrated and one database for the
 * run. Whatever the body starts on top (the application, pools, processes)
 * it hands to `defer`; when the body settles, however it did, those are
 * closed newest first, then the database is dropped, the servers stopped and
 * the temp dir removed, so no run leaves anything behind; the same happens
 * when the bench gets SIGINT or SIGTERM (it then exits 130 or 143).
 */
import { defaultFlagStates } from '@coherence/flags';
import { migrateDatabase } from '@coherence/migrations';
import {
  adminQuery,
  adminUrl,
  createTestDatabase,
  startServices,
  TEMPLATE_DATABASE,
  type RunningServices,
  type TestDatabase,
} from '@coherence/devservices';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BenchServers {
  /** The run's temp dir (the servers' data and logs live under it). */
  rootDir: string;
  services: RunningServices;
  database: TestDatabase;
  /** Registers a close to run at teardown, before the database and servers go. */
  defer(close: () => Promise<unknown>): void;
}

export interface ServersOptions {
  /** Prefix of the temp dir's name. */
  tempPrefix: string;
  /** Region tag of the read replica (startServices' default when absent). */
  replicaRegion?: string;
  /** Told "servers up; migrating" once the servers answer. */
  say?: (message: string) => void;
  /**
   * Postgres with `fsync` and `synchronous_commit` on, as in production, instead of the test servers' throw-away
   * settings: for a bench whose figure includes waiting for durable writes (bench:ingest). Default false.
   */
  durable?: boolean;
}

export async function withServers<T>(options: ServersOptions, body: (servers: BenchServers) => Promise<T>): Promise<T> {
  const rootDir = mkdtempSync(join(tmpdir(), options.tempPrefix));
  const closers: (() => Promise<unknown>)[] = [];
  let services: RunningServices | undefined;
  let tornDown: Promise<void> | undefined;
  /** Once, whichever comes first: the body settling or a signal. */
  const teardown = () =>
    (tornDown ??= (async () => {
      // One failed close must not keep the rest (and the servers) running.
      for (const close of closers.reverse()) await close().catch((error: unknown) => console.error('teardown:', error));
      await services?.stop();
      rmSync(rootDir, { recursive: true, force: true });
    })());
  // The servers run in process groups of their own: without this, a Ctrl-C or a SIGTERM of the bench leaves them running.
  // `on`, not `once`: a signal often comes twice (`npx tsx` passes its own on), and a second one with no listener left
  // would kill the process in the middle of the teardown.
  const onSignal = (signal: NodeJS.Signals) => void teardown().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    services = await startServices({
      rootDir,
      replicaRegion: options.replicaRegion,
      unleashFlags: defaultFlagStates,
      fast: !(options.durable ?? false),
    });
    options.say?.('servers up; migrating');
    await adminQuery(services.endpoints, `CREATE DATABASE ${TEMPLATE_DATABASE}`);
    await migrateDatabase(adminUrl(services.endpoints, TEMPLATE_DATABASE));
    const database = await createTestDatabase(services.endpoints);
    closers.push(() => database.drop());
    return await body({ rootDir, services, database, defer: (close) => closers.push(close) });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await teardown();
  }
}
