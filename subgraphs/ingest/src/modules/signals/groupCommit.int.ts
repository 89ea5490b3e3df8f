import type { Provenance, Signal } from '@coherence/contracts';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { createPgPool, type PgPool } from '@coherence/platform';
import { Counter, Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createGroupCommit, type StorePush } from './groupCommit';

/** Group commit against the real Postgres, as ingest's own role (row-level security on). */
let database: TestDatabase;
let ingestPool: PgPool;
let admin: PgPool;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  ingestPool = createPgPool(database.urls.ingest);
  admin = createPgPool(database.adminUrl);
});

afterAll(async () => {
  await ingestPool?.end();
  await admin?.end();
  await database?.drop();
});

const provenance: Provenance = { purpose: 'operations', retention: 'P30D', license: 'internal', residency: 'us' };
const context = { defaultProvenance: provenance, correlationId: 'group-commit-test' };
let tenantCount = 0;
const newTenant = () => `${database.namespace}-group-${++tenantCount}`;
const signal = (tenantId: string, signalId: string, value = 0.5): Signal => ({
  tenantId,
  source: 'sensor',
  signalId,
  ts: '2026-11-26T12:00:00.000Z',
  type: 'reading',
  value,
  weight: 1,
});

function groupCommit(windowMs: number, maxPushes = 64) {
  const registry = new Registry();
  const groupSize = new Histogram({ name: 'pushes', help: 'pushes per group', buckets: [1, 2, 4, 8, 16, 32, 64], registers: [registry] });
  const groupsSplit = new Counter({ name: 'splits', help: 'groups split', registers: [registry] });
  const store: StorePush = createGroupCommit({ pool: ingestPool, windowMs, maxPushes, metrics: { groupSize, groupsSplit } });
  const groups = async () => {
    const { values } = await groupSize.get();
    return {
      count: values.find((v) => v.metricName === 'pushes_count')!.value,
      sum: values.find((v) => v.metricName === 'pushes_sum')!.value,
    };
  };
  const splits = async () => (await groupsSplit.get()).values[0]!.value;
  return { store, groups, splits };
}

const ledgerCount = async (tenantId: string) =>
  Number((await admin.query('SELECT count(*) FROM signal_ledger WHERE tenant_id = $1', [tenantId])).rows[0].count);
const outboxEvents = async (tenantId: string) =>
  (
    await admin.query<{ envelope: { payload: { signals: { signalId: string }[] } } }>('SELECT envelope FROM outbox WHERE tenant_id = $1', [
      tenantId,
    ])
  ).rows;

describe('group commit', () => {
  it('writes concurrent pushes of several tenants in one transaction and answers each with its own counts', async () => {
    const { store, groups } = groupCommit(50);
    const tenants = [newTenant(), newTenant(), newTenant()];
    // Three pushes of each tenant, given in an order that is not the tenants' order.
    const pushes = [2, 0, 1, 0, 2, 1, 1, 2, 0].map((t, i) => ({
      signals: [signal(tenants[t]!, `s${i}`), signal(tenants[t]!, `t${i}`)],
      context,
    }));
    const results = await Promise.all(pushes.map((push) => store(push)));
    expect(results).toEqual(pushes.map(() => ({ accepted: 2, deduped: 0 })));
    expect(await groups()).toEqual({ count: 1, sum: 9 });
    for (const tenantId of tenants) {
      expect(await ledgerCount(tenantId)).toBe(6);
      // One outbox event per push, as when each is stored alone, carrying that push's signals.
      const events = await outboxEvents(tenantId);
      expect(events).toHaveLength(3);
      expect(events.every((e) => e.envelope.payload.signals.length === 2)).toBe(true);
    }
  });

  it('keeps dedupe within a group: the same key pushed twice is stored once, the second push is told it was deduped', async () => {
    const { store, groups } = groupCommit(50);
    const tenantId = newTenant();
    const results = await Promise.all([
      store({ signals: [signal(tenantId, 'same'), signal(tenantId, 'a')], context }),
      store({ signals: [signal(tenantId, 'same')], context }),
    ]);
    expect(await groups()).toEqual({ count: 1, sum: 2 });
    expect(results).toEqual([
      { accepted: 2, deduped: 0 },
      { accepted: 0, deduped: 1 },
    ]);
    expect(await ledgerCount(tenantId)).toBe(2);
    expect(await outboxEvents(tenantId)).toHaveLength(1);
  });

  it('answers a push Postgres refuses alone: the others of its group are stored', async () => {
    const { store, groups, splits } = groupCommit(50);
    const tenantId = newTenant();
    const other = newTenant();
    // value 2 passes no HTTP validation, but here it reaches the ledger's CHECK (0 ≤ value ≤ 1): a poisoned push.
    const outcomes = await Promise.allSettled([
      store({ signals: [signal(tenantId, 'good-1')], context }),
      store({ signals: [signal(tenantId, 'poison', 2)], context }),
      store({ signals: [signal(other, 'good-2')], context }),
    ]);
    expect(await groups()).toEqual({ count: 1, sum: 3 });
    expect(await splits()).toBe(1);
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: { accepted: 1, deduped: 0 } });
    expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { code: '23514' } });
    expect(outcomes[2]).toEqual({ status: 'fulfilled', value: { accepted: 1, deduped: 0 } });
    expect(await ledgerCount(tenantId)).toBe(1);
    expect(await ledgerCount(other)).toBe(1);
  });

  it('stores every tenant of a push that carries several (the route refuses those today; the store does not rely on it)', async () => {
    const { store, groups } = groupCommit(50);
    const [first, second] = [newTenant(), newTenant()];
    const results = await Promise.all([
      store({ signals: [signal(second, 'm1'), signal(first, 'm2'), signal(second, 'm3')], context }),
      store({ signals: [signal(first, 'm4')], context }),
    ]);
    expect(await groups()).toEqual({ count: 1, sum: 2 });
    expect(results).toEqual([
      { accepted: 3, deduped: 0 },
      { accepted: 1, deduped: 0 },
    ]);
    expect(await ledgerCount(first)).toBe(2);
    expect(await ledgerCount(second)).toBe(2);
    expect(await outboxEvents(first)).toHaveLength(2);
    expect(await outboxEvents(second)).toHaveLength(1);
  });

  it('writes a full group at once and starts the next', async () => {
    const { store, groups } = groupCommit(50, 4);
    const tenantId = newTenant();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store({ signals: [signal(tenantId, `n${i}`)], context })));
    expect(results.every((r) => r.accepted === 1)).toBe(true);
    expect(await groups()).toEqual({ count: 3, sum: 10 });
    expect(await ledgerCount(tenantId)).toBe(10);
  });

  it('with a window of 0 stores each push alone', async () => {
    const { store, groups } = groupCommit(0);
    const tenantId = newTenant();
    const results = await Promise.all([1, 2, 3].map((i) => store({ signals: [signal(tenantId, `z${i}`)], context })));
    expect(results).toEqual([1, 2, 3].map(() => ({ accepted: 1, deduped: 0 })));
    expect(await groups()).toEqual({ count: 0, sum: 0 });
    expect(await outboxEvents(tenantId)).toHaveLength(3);
  });
});
