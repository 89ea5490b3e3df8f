import { adminQuery, adminUrl, createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { randomBytes } from 'node:crypto';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { MigrationChecksumError, MigrationFailedError, migrateDatabase, pendingMigrations } from './migrateDatabase';
import { migrationSets, type MigrationSet } from './migrationSets';

const services = inject('services');
const cleanups: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Every file of every set as the migrator names them, in the order it applies them. */
const everyMigration = migrationSets.flatMap(({ service, dir }) =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => `${service}/${name}`),
);
const newestOfEachSet = migrationSets.map(({ service }) => everyMigration.filter((id) => id.startsWith(`${service}/`)).at(-1)!);

/** A database that has never been migrated (the test kit's copies of the template all are). */
async function emptyDatabase(): Promise<string> {
  const name = `m${randomBytes(5).toString('hex')}`;
  await adminQuery(services, `CREATE DATABASE ${name}`);
  cleanups.push(() => adminQuery(services, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  return adminUrl(services, name);
}

async function migratedDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase(services);
  cleanups.push(() => database.drop());
  return database;
}

/** Copies of the sets' directories, `keep` deciding per file (`service/file`); returns the copies as sets. */
function copiedSets(keep: (id: string) => boolean = () => true): MigrationSet[] {
  const root = mkdtempSync(join(tmpdir(), 'coherence-migrations-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  return migrationSets.map(({ service, dir }) => {
    const copy = join(root, service);
    mkdirSync(copy);
    for (const name of readdirSync(dir).filter((file) => keep(`${service}/${file}`))) cpSync(join(dir, name), join(copy, name));
    return { service, dir: copy };
  });
}

const dirOf = (sets: MigrationSet[], service: string) => sets.find((set) => set.service === service)!.dir;

async function query<T extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

const tableExists = async (url: string, table: string) =>
  (await query<{ present: boolean }>(url, 'SELECT to_regclass($1) IS NOT NULL AS present', [table]))[0]!.present;

describe('migrateDatabase and pendingMigrations', () => {
  it('lists every migration of a fresh database as pending, applies them in that order, and then lists none', async () => {
    const url = await emptyDatabase();
    expect(await pendingMigrations(url)).toEqual(everyMigration);
    expect(await tableExists(url, 'schema_migrations')).toBe(false);

    expect(await migrateDatabase(url)).toEqual(everyMigration);
    expect(await pendingMigrations(url)).toEqual([]);
    expect(await tableExists(url, 'comms_envelopes')).toBe(true);
  });

  it('applies nothing when run again on a migrated database, leaving the record as it was', async () => {
    const { adminUrl: url } = await migratedDatabase();
    const before = await query(url, 'SELECT service, name, sha256, applied_at FROM schema_migrations ORDER BY service, name');
    expect(before.map((row) => `${row['service']}/${row['name']}`).sort()).toEqual([...everyMigration].sort());

    expect(await migrateDatabase(url)).toEqual([]);
    expect(await query(url, 'SELECT service, name, sha256, applied_at FROM schema_migrations ORDER BY service, name')).toEqual(before);
  });

  it('lets two migrators of one fresh database take turns: each migration is applied once', async () => {
    const url = await emptyDatabase();
    const [first, second] = await Promise.all([migrateDatabase(url), migrateDatabase(url)]);
    expect([first, second].sort((a, b) => a.length - b.length)).toEqual([[], everyMigration]);
  });

  it('migrates two fresh databases of the cluster at once: the cluster-wide roles are created and altered by one at a time', async () => {
    // Without ingest 005's lock on pg_authid the second ALTER ROLE fails (tuple concurrently updated).
    const [first, second] = await Promise.all([emptyDatabase(), emptyDatabase()]);
    expect(await Promise.all([migrateDatabase(first), migrateDatabase(second)])).toEqual([everyMigration, everyMigration]);
  });

  it('refuses a migration edited after it was applied, applying nothing else, in a dry run too', async () => {
    const { adminUrl: url } = await migratedDatabase();
    const sets = copiedSets();
    const edited = everyMigration.find((id) => id.startsWith('gateway/'))!;
    appendFileSync(join(dirOf(sets, 'gateway'), edited.slice('gateway/'.length)), '\n-- an innocent comment is an edit too\n');
    writeFileSync(join(dirOf(sets, 'comms'), '999_new_table.sql'), 'CREATE TABLE comms_new_table (id int);\n');

    const refusal = { code: 'MIGRATION_CHECKSUM_MISMATCH', migration: edited };
    await expect(pendingMigrations(url, sets)).rejects.toThrow(MigrationChecksumError);
    await expect(pendingMigrations(url, sets)).rejects.toMatchObject(refusal);
    await expect(migrateDatabase(url, sets)).rejects.toMatchObject(refusal);
    expect(await tableExists(url, 'comms_new_table')).toBe(false);
    expect(await pendingMigrations(url)).toEqual([]);
  });

  it('rolls back every migration of the run when one fails, naming it', async () => {
    const { adminUrl: url } = await migratedDatabase();
    const sets = copiedSets();
    writeFileSync(join(dirOf(sets, 'ingest'), '999_new_table.sql'), 'CREATE TABLE ingest_new_table (id int);\n');
    writeFileSync(join(dirOf(sets, 'comms'), '999_broken.sql'), 'ALTER TABLE no_such_table ADD COLUMN x int;\n');

    const failure = migrateDatabase(url, sets);
    await expect(failure).rejects.toThrow(MigrationFailedError);
    await expect(failure).rejects.toMatchObject({ code: 'MIGRATION_FAILED', migration: 'comms/999_broken.sql' });
    expect(await tableExists(url, 'ingest_new_table')).toBe(false);
    expect(await pendingMigrations(url, sets)).toEqual(['ingest/999_new_table.sql', 'comms/999_broken.sql']);
  });

  it("upgrades a database at the previous release's schema: the newer migrations apply and the rows stay", async () => {
    const url = await emptyDatabase();
    // The previous release stands in as every set without its newest file.
    const previousRelease = copiedSets((id) => !newestOfEachSet.includes(id));
    const previous = everyMigration.filter((id) => !newestOfEachSet.includes(id));
    expect(await migrateDatabase(url, previousRelease)).toEqual(previous);
    await query(
      url,
      `INSERT INTO signal_ledger (tenant_id, source, signal_id, ts, type, value, weight, provenance)
       VALUES ('acme', 'src', 's1', now(), 'latency', 0.5, 1, '{}')`,
    );
    await query(url, `INSERT INTO tenants (tenant_id, residency) VALUES ('acme', 'eu-west')`);
    await query(
      url,
      `INSERT INTO dispatch_commands (command_id, tenant_id, type, idempotency_key, state, payload)
       VALUES (gen_random_uuid(), 'acme', 'notify', 'k1', 'pending', '{}')`,
    );

    expect(await pendingMigrations(url)).toEqual(newestOfEachSet);
    expect(await migrateDatabase(url)).toEqual(newestOfEachSet);
    expect(await pendingMigrations(url)).toEqual([]);
    expect(await query(url, `SELECT tenant_id, signal_id FROM signal_ledger`)).toEqual([{ tenant_id: 'acme', signal_id: 's1' }]);
    expect(await query(url, `SELECT tenant_id, residency FROM tenants`)).toEqual([{ tenant_id: 'acme', residency: 'eu-west' }]);
    expect(await query(url, `SELECT tenant_id, state FROM dispatch_commands`)).toEqual([{ tenant_id: 'acme', state: 'pending' }]);
  });
});
