import { createPgPool, inTransaction, type PgClient } from '@coherence/platform';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { migrationSets, type MigrationSet } from './migrationSets';

/** A file of a set, named as the migrator prints it: `service/file`. */
interface Migration {
  id: string;
  service: string;
  name: string;
  sql: string;
  sha256: string;
}

/** An applied migration whose file changed since: the database and the code disagree on its schema, so nothing is applied. */
export class MigrationChecksumError extends Error {
  readonly code = 'MIGRATION_CHECKSUM_MISMATCH';
  constructor(readonly migration: string) {
    super(`migration ${migration} was edited after it was applied; add a new migration instead`);
  }
}

/** A pending migration Postgres refused; the transaction, with every migration before it, is rolled back. */
export class MigrationFailedError extends Error {
  readonly code = 'MIGRATION_FAILED';
  constructor(
    readonly migration: string,
    cause: unknown,
  ) {
    super(`migration ${migration} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Brings a database up to date and returns what it applied (`service/file`,
 * in order; empty when it was up to date). `adminUrl` must be a superuser
 * (the migrations create roles). Every pending file of every set runs in one
 * transaction under an advisory lock: a second migrator waits and then finds
 * nothing to do, and a failing file ({@link MigrationFailedError}) or an edited
 * applied one ({@link MigrationChecksumError}) leaves the database as it was.
 */
export async function migrateDatabase(adminUrl: string, sets: readonly MigrationSet[] = migrationSets): Promise<string[]> {
  const pool = createPgPool(adminUrl, { max: 1 });
  try {
    return await inTransaction(pool, async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('coherence.migrations'))`);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        service text NOT NULL, name text NOT NULL, sha256 text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (service, name))`);
      const pending = await pendingOf(client, sets);
      for (const migration of pending) {
        await client.query(migration.sql).catch((error: unknown) => {
          throw new MigrationFailedError(migration.id, error);
        });
        await client.query('INSERT INTO schema_migrations (service, name, sha256) VALUES ($1, $2, $3)', [
          migration.service,
          migration.name,
          migration.sha256,
        ]);
      }
      return pending.map((migration) => migration.id);
    });
  } finally {
    await pool.end();
  }
}

/**
 * What {@link migrateDatabase} would apply now (`service/file`, in order),
 * changing nothing: every file on a database never migrated, none on an up to
 * date one. Throws {@link MigrationChecksumError} as the migration would.
 */
export async function pendingMigrations(adminUrl: string, sets: readonly MigrationSet[] = migrationSets): Promise<string[]> {
  const pool = createPgPool(adminUrl, { max: 1 });
  try {
    const client = await pool.connect();
    try {
      return (await pendingOf(client, sets)).map((migration) => migration.id);
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}

/** The files of `sets` not recorded in `schema_migrations` (absent: none are), checking the recorded ones are unchanged. */
async function pendingOf(client: PgClient, sets: readonly MigrationSet[]): Promise<Migration[]> {
  const { rows } = await client.query<{ present: boolean }>(`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`);
  const recorded = rows[0]!.present
    ? (await client.query<{ service: string; name: string; sha256: string }>('SELECT service, name, sha256 FROM schema_migrations')).rows
    : [];
  const recordedSha256 = new Map(recorded.map((row) => [`${row.service}/${row.name}`, row.sha256]));
  const pending: Migration[] = [];
  for (const migration of await readMigrations(sets)) {
    const sha256 = recordedSha256.get(migration.id);
    if (sha256 === undefined) pending.push(migration);
    else if (sha256 !== migration.sha256) throw new MigrationChecksumError(migration.id);
  }
  return pending;
}

async function readMigrations(sets: readonly MigrationSet[]): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const { service, dir } of sets) {
    const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
    for (const name of names) {
      const sql = await readFile(join(dir, name), 'utf8');
      const sha256 = createHash('sha256').update(sql).digest('hex');
      migrations.push({ id: `${service}/${name}`, service, name, sql, sha256 });
    }
  }
  return migrations;
}
