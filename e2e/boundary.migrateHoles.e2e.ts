import { createTestDatabase, type TestDatabase } from '@coherence/testkit';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Attacks on the holes closed by issue 14, item 7, from outside the
 * processes. (The Twilio webhook's — a replayed message, a Host naming
 * another deployment — are in subgraphs/comms/src/inbound/registerTwilioInbound.int.ts,
 * on the real comms service.)
 */
const repoRoot = resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const services = inject('services');
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase(services);
});
afterAll(() => database?.drop());

async function adminQuery<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: database.adminUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** `npm run retention -- …` as an operator runs it, on this file's database. */
async function retentionCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/retention.ts', ...args], {
      cwd: repoRoot,
      env: { PATH: process.env['PATH'], RETENTION_DATABASE_URL: database.adminUrl, NEO4J_URL: services.neo4jBoltUrl },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('npm run retention --tenant-prefix', () => {
  it('refuses a prefix with LIKE wildcards no tenant id can hold (exit 2), deleting nothing of any tenant', async () => {
    const tenants = [`${database.namespace}-a`, `${database.namespace}-b`];
    for (const tenantId of tenants) {
      await adminQuery(
        `INSERT INTO signal_ledger (tenant_id, source, signal_id, ts, type, value, weight, provenance)
         VALUES ($1, 'api', 'old', now() - interval '400 days', 'health', 0.5, 1, '{}')`,
        [tenantId],
      );
    }
    for (const prefix of ['%', `${database.namespace}-%`, '']) {
      const refused = await retentionCli('--tenant-prefix', prefix);
      expect(refused.code, prefix).toBe(2);
      expect(refused.stderr).toContain('INVALID_TENANT_PREFIX');
    }
    const left = await adminQuery<{ tenant_id: string }>(`SELECT tenant_id FROM signal_ledger WHERE signal_id = 'old' ORDER BY 1`);
    expect(left.map((row) => row.tenant_id)).toEqual(tenants);
  });

  it('takes `_` literally: a prefix ending in it reaches only the tenant that has it', async () => {
    const [underscore, other] = [`${database.namespace}-c_1`, `${database.namespace}-cX1`];
    for (const tenantId of [underscore, other]) {
      await adminQuery(
        `INSERT INTO signal_ledger (tenant_id, source, signal_id, ts, type, value, weight, provenance)
         VALUES ($1, 'api', 'old', now() - interval '400 days', 'health', 0.5, 1, '{}')`,
        [tenantId],
      );
    }
    const dryRun = await retentionCli('--dry-run', '--tenant-prefix', `${database.namespace}-c_`);
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toContain(underscore);
    expect(dryRun.stdout).not.toContain(other);

    expect((await retentionCli('--tenant-prefix', `${database.namespace}-c_`)).code).toBe(0);
    const left = await adminQuery<{ tenant_id: string }>(`SELECT tenant_id FROM signal_ledger WHERE tenant_id = ANY($1)`, [
      [underscore, other],
    ]);
    expect(left.map((row) => row.tenant_id)).toEqual([other]);
  });
});
