import { createPgPool, inTransaction, type PgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TENANT_CHANGED_CHANNEL } from '@coherence/contracts';
import { createTenantDirectory } from './createTenantDirectory';
import { listenForTenantChanges } from './listenForTenantChanges';

/** The tenant directory (the gateway's and ingest's) against the real `tenants` table (row-level security on). */
let database: TestDatabase;
let appPool: PgPool;
let adminPool: PgPool;
/** Connections the directory took from the pool: one per read of a tenant. */
let reads = 0;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  appPool = createPgPool(database.urls.gateway);
  appPool.on('acquire', () => (reads += 1));
  adminPool = createPgPool(database.adminUrl);
});

afterAll(async () => {
  await appPool?.end();
  await adminPool?.end();
  await database?.drop();
});

const register = (tenantId: string) =>
  adminPool.query(`INSERT INTO tenants (tenant_id, residency, weight) VALUES ($1, 'eu', 3)`, [tenantId]);

describe('createTenantDirectory', () => {
  it('reads a registered tenant once per TTL, however many requests ask', async () => {
    const tenantId = `${database.namespace}-found`;
    await register(tenantId);
    const directory = createTenantDirectory({ pool: appPool, ttlMs: 60_000, negativeTtlMs: 60_000 });
    reads = 0;
    const answers = await Promise.all(Array.from({ length: 50 }, () => directory.recordsOf([tenantId])));
    expect(answers.every((records) => records.get(tenantId)?.residency === 'eu' && records.get(tenantId)?.weight === 3)).toBe(true);
    expect(reads).toBe(1);
  });

  it('believes "not registered" for the negative TTL only: made-up ids cost one read per id and window, and a new tenant is served after it', async () => {
    const tenantId = `${database.namespace}-later`;
    const directory = createTenantDirectory({ pool: appPool, ttlMs: 60_000, negativeTtlMs: 300 });
    reads = 0;
    for (let i = 0; i < 20; i += 1) expect((await directory.recordsOf([tenantId])).has(tenantId)).toBe(false);
    expect(reads).toBe(1);
    await register(tenantId);
    expect((await directory.recordsOf([tenantId])).has(tenantId)).toBe(false);
    await sleep(350);
    expect((await directory.recordsOf([tenantId])).get(tenantId)?.residency).toBe('eu');
  });

  it('is bounded: a flood of made-up ids forgets the least recently asked', async () => {
    const directory = createTenantDirectory({ pool: appPool, ttlMs: 60_000, negativeTtlMs: 60_000, maxEntries: 10 });
    const made = Array.from({ length: 11 }, (_, i) => `${database.namespace}-made-${i}`);
    for (const id of made) await directory.recordsOf([id]);
    reads = 0;
    await directory.recordsOf(made.slice(1));
    expect(reads).toBe(0);
    await directory.recordsOf(made.slice(0, 1));
    expect(reads).toBe(1);
  });

  it('reads a tenant again as soon as TenantChanged says it changed, long before its TTL', async () => {
    const tenantId = `${database.namespace}-changed`;
    await register(tenantId);
    const directory = createTenantDirectory({ pool: appPool, ttlMs: 600_000, negativeTtlMs: 600_000 });
    const listener = listenForTenantChanges({
      pool: appPool,
      logger: { warn: () => undefined },
      onChange: directory.forget,
      onResync: directory.forgetAll,
    });
    try {
      await listener.started;
      expect((await directory.recordsOf([tenantId])).get(tenantId)?.weight).toBe(3);
      // What the tenant-admin store does in the transaction of a change.
      await inTransaction(adminPool, async (client) => {
        await client.query(`UPDATE tenants SET weight = 5 WHERE tenant_id = $1`, [tenantId]);
        await client.query('SELECT pg_notify($1, $2)', [TENANT_CHANGED_CHANNEL, JSON.stringify({ tenantId, kind: 'tenant' })]);
      });
      const changedAt = Date.now();
      let weight: number | undefined;
      while (weight !== 5 && Date.now() - changedAt < 5_000) {
        weight = (await directory.recordsOf([tenantId])).get(tenantId)?.weight;
        if (weight !== 5) await sleep(10);
      }
      expect(weight).toBe(5);
      // A notice that is not JSON (any role may NOTIFY) forgets everything instead of ending the process.
      await adminPool.query(`UPDATE tenants SET weight = 7 WHERE tenant_id = $1`, [tenantId]);
      await adminPool.query('SELECT pg_notify($1, $2)', [TENANT_CHANGED_CHANNEL, '{not json']);
      const garbledAt = Date.now();
      while (weight !== 7 && Date.now() - garbledAt < 5_000) {
        weight = (await directory.recordsOf([tenantId])).get(tenantId)?.weight;
        if (weight !== 7) await sleep(10);
      }
      expect(weight).toBe(7);
    } finally {
      await listener.close();
    }
  });
});
