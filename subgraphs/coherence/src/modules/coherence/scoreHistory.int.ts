import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { createPgPool, type PgPool } from '@coherence/platform';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeHistoryCursor, encodeHistoryCursor, HISTORY_MAX_LIMIT, readScoreHistory } from './scoreHistory';

/** The score history's read as coherence_app, against the migrated schema and its row-level security. */
let database: TestDatabase;
let admin: PgPool;
let reader: PgPool;
const tenant = (name: string) => `${database.namespace}-${name}`;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  admin = createPgPool(database.adminUrl);
  reader = createPgPool(database.urls.coherence);
  // Tenant a changes five times (0.1 … 0.5, a minute apart), tenant b once, interleaved by id.
  for (let i = 1; i <= 5; i++) {
    for (const [name, score] of [['a', i / 10] as const, ...(i === 3 ? [['b', 0.99] as const] : [])]) {
      await admin.query(
        `INSERT INTO coherence_score_history (tenant_id, score, status, changed_at, message)
         VALUES ($1, $2, 'CRITICAL', $3, '{}')`,
        [tenant(name), score, `2026-11-26T10:0${i}:00.000001Z`],
      );
    }
  }
});

afterAll(async () => {
  await reader?.end();
  await admin?.end();
  await database?.drop();
});

describe('readScoreHistory', () => {
  it("pages through the tenant's changes newest first, and only the tenant's", async () => {
    const first = await readScoreHistory(reader, { tenantId: tenant('a'), limit: 2 });
    expect(first.points).toEqual([
      { score: 0.5, status: 'CRITICAL', changedAt: '2026-11-26T10:05:00.000001+00:00' },
      { score: 0.4, status: 'CRITICAL', changedAt: '2026-11-26T10:04:00.000001+00:00' },
    ]);
    const second = await readScoreHistory(reader, { tenantId: tenant('a'), limit: 2, before: first.nextBefore });
    expect(second.points.map((point) => point.score)).toEqual([0.3, 0.2]);
    const last = await readScoreHistory(reader, { tenantId: tenant('a'), limit: 2, before: second.nextBefore });
    expect(last).toEqual({ points: [expect.objectContaining({ score: 0.1 })], nextBefore: null });
    expect((await readScoreHistory(reader, { tenantId: tenant('b') })).points.map((point) => point.score)).toEqual([0.99]);
  });

  it("sees no other tenant's rows through a cursor of theirs, and nothing without a tenant", async () => {
    const ofA = await readScoreHistory(reader, { tenantId: tenant('a'), limit: 1 });
    // b's cursor space is the same table: a's cursor only bounds the id, row-level security still keys on b.
    expect((await readScoreHistory(reader, { tenantId: tenant('b'), before: ofA.nextBefore })).points).toHaveLength(1);
    expect((await readScoreHistory(reader, { tenantId: tenant('none') })).points).toEqual([]);
    const client = await reader.connect();
    try {
      expect((await client.query('SELECT tenant_id FROM coherence_score_history')).rows).toEqual([]);
    } finally {
      client.release();
    }
  });

  it('refuses a limit out of 1..500 and a cursor it did not give out', async () => {
    for (const limit of [0, HISTORY_MAX_LIMIT + 1, 1.5])
      await expect(readScoreHistory(reader, { tenantId: tenant('a'), limit })).rejects.toMatchObject({
        extensions: { code: 'BAD_USER_INPUT', argumentName: 'limit' },
      });
    for (const before of ['not-a-cursor', encodeHistoryCursor('0'), encodeHistoryCursor('99999999999999999999')])
      await expect(readScoreHistory(reader, { tenantId: tenant('a'), before })).rejects.toMatchObject({
        extensions: { code: 'BAD_USER_INPUT', argumentName: 'before' },
      });
    expect(decodeHistoryCursor(encodeHistoryCursor('42'))).toBe('42');
  });
});
