import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/testkit';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDecisionRecorder, type RecordedDecision } from './createDecisionRecorder';

let database: TestDatabase;
let appPool: PgPool;
let adminPool: PgPool;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  appPool = createPgPool(database.appUrl);
  adminPool = createPgPool(database.adminUrl);
});

afterAll(async () => {
  await appPool?.end();
  await adminPool?.end();
  await database?.drop();
});

const decision = (tenantId: string, allow: boolean): RecordedDecision => ({
  decisionId: randomUUID(),
  tenantId,
  subject: 'user-1',
  clientId: 'web',
  operationId: 'a'.repeat(64),
  operationType: 'query',
  allow,
  reasonCode: allow ? 'ALLOWED' : 'TENANT_MISMATCH',
  explanation: 'test',
  bundleSha256: 'b'.repeat(64),
  correlationId: randomUUID(),
  decidedAt: new Date().toISOString(),
});

const stored = async (decisions: RecordedDecision[]) =>
  (
    await adminPool.query<{ n: number }>('SELECT count(*)::int AS n FROM policy_decisions WHERE decision_id = ANY($1)', [
      decisions.map((d) => d.decisionId),
    ])
  ).rows[0]!.n;

describe('createDecisionRecorder', () => {
  const logger = createLogger('test', 'silent');

  it('writes decisions of several tenants in one batch, each under its own tenant (row-level security)', async () => {
    const recorder = createDecisionRecorder({ pool: appPool, logger, region: 'us', flushMs: 60_000, batchSize: 1_000 });
    const decisions = [
      decision(`${database.namespace}-a`, true),
      decision(`${database.namespace}-b`, false),
      decision(`${database.namespace}-a`, false),
    ];
    for (const d of decisions) recorder.record(d);
    expect(await stored(decisions)).toBe(0);
    expect(await recorder.flush()).toBe(true);
    expect(await stored(decisions)).toBe(3);
    const { rows } = await adminPool.query('SELECT tenant_id, client_id, region FROM policy_decisions WHERE decision_id = $1', [
      decisions[1]!.decisionId,
    ]);
    expect(rows).toEqual([{ tenant_id: `${database.namespace}-b`, client_id: 'web', region: 'us' }]);
    await recorder.close();
  });

  it('keeps decisions the database refused and writes them once it accepts again', async () => {
    const dropped: number[] = [];
    const recorder = createDecisionRecorder({
      pool: appPool,
      logger,
      region: 'us',
      flushMs: 60_000,
      batchSize: 1_000,
      maxPending: 3,
      onDropped: (count) => dropped.push(count),
    });
    await adminPool.query('REVOKE INSERT ON policy_decisions FROM coherence_app');
    const decisions = Array.from({ length: 4 }, () => decision(`${database.namespace}-c`, true));
    try {
      for (const d of decisions) recorder.record(d);
      expect(await recorder.flush()).toBe(false);
    } finally {
      await adminPool.query('GRANT INSERT ON policy_decisions TO coherence_app');
    }
    // Bounded: beyond maxPending the oldest are dropped, and counted.
    expect(dropped).toEqual([1]);
    await recorder.close();
    expect(await stored(decisions.slice(1))).toBe(3);
    expect(await stored(decisions.slice(0, 1))).toBe(0);
  });

  it('refuses a decision that breaks the PolicyDecision contract', () => {
    const recorder = createDecisionRecorder({ pool: appPool, logger, region: 'us', flushMs: 60_000, batchSize: 1_000 });
    expect(() => recorder.record({ ...decision('t', true), reasonCode: 'TENANT_MISMATCH' })).toThrow(/ALLOWED/);
    void recorder.close();
  });
});
