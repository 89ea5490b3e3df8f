import { migrationSets } from '@coherence/migrations';
import { adminQuery, adminUrl } from '@coherence/devservices';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/** `npm run migrate` as an operator runs it, on a database that has never been migrated. */
const repoRoot = resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const services = inject('services');
const database = `m${randomBytes(5).toString('hex')}`;
const databaseUrl = adminUrl(services, database);

const everyMigration = migrationSets.flatMap(({ service, dir }) =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => `${service}/${name}`),
);

async function migrateCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts', ...args], {
      cwd: repoRoot,
      env: { PATH: process.env['PATH'] },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const listed = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('  '))
    .map((line) => line.trim());

beforeAll(() => adminQuery(services, `CREATE DATABASE ${database}`));
afterAll(() => adminQuery(services, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));

describe('npm run migrate', () => {
  it('lists every migration with --dry-run on a fresh database, applying none', async () => {
    const dryRun = await migrateCli('--dry-run', '--database-url', databaseUrl);
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toContain(`pending (${everyMigration.length}), dry run: nothing applied`);
    expect(listed(dryRun.stdout)).toEqual(everyMigration);
    expect(listed((await migrateCli('--dry-run', '--database-url', databaseUrl)).stdout)).toEqual(everyMigration);
  });

  it('applies them, lists what it applied, and then finds the database up to date, dry run or not', async () => {
    const migrate = await migrateCli('--database-url', databaseUrl);
    expect(migrate.code).toBe(0);
    expect(listed(migrate.stdout)).toEqual(everyMigration);

    for (const args of [['--dry-run'], []]) {
      const again = await migrateCli(...args, '--database-url', databaseUrl);
      expect(again).toMatchObject({ code: 0, stdout: 'the database is up to date\n' });
    }
  });

  it('exits 1 naming the database, its password redacted, when it cannot migrate it', async () => {
    const unreachable = `postgres://postgres:secret@127.0.0.1:${services.postgres.port}/${database}_absent`;
    const failed = await migrateCli('--dry-run', '--database-url', unreachable);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`migrating postgres://postgres:***@127.0.0.1:${services.postgres.port}/${database}_absent failed`);
    expect(failed.stderr).not.toContain('secret');
  });

  it('exits 2 with the usage on an unknown option', async () => {
    const usage = await migrateCli('--dry-runn');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: npm run migrate');
  });
});
