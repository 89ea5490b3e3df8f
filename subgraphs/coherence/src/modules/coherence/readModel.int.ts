import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { createPgPool, type PgPool } from '@coherence/platform';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { readCoherenceScore } from './readModel';

/** The read model's read as coherence_app, against the migrated schema and its row-level security. */
let database: TestDatabase;
let admin: PgPool;
let reader: PgPool;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  admin = createPgPool(database.adminUrl);
  reader = createPgPool(database.urls.coherence);
  for (const [tenant, score] of [
    ['a', 0.9],
    ['b', 0.4],
  ] as const) {
    await admin.query(
      `INSERT INTO coherence_scores (tenant_id, score, status, agreement, window_iso, sources, as_of)
       VALUES ($1, $2, 'HEALTHY', 1, 'PT24H', '[{"source":"api","score":0.9,"count":1}]', '2026-11-26T10:00:00.123456Z')`,
      [`${database.namespace}-${tenant}`, score],
    );
  }
});

afterAll(async () => {
  await reader?.end();
  await admin?.end();
  await database?.drop();
});

describe('readCoherenceScore', () => {
  const tenant = (name: string) => `${database.namespace}-${name}`;

  it("reads the tenant's row in one round trip, asOf to the microsecond", async () => {
    const query = vi.spyOn(reader, 'query');
    const read = await readCoherenceScore(reader, tenant('a'), 'PT24H');
    expect(read).toMatchObject({
      tenantId: tenant('a'),
      score: 0.9,
      status: 'HEALTHY',
      agreement: 1,
      window: 'PT24H',
      asOf: '2026-11-26T10:00:00.123456+00:00',
      sources: [{ source: 'api', score: 0.9, count: 1 }],
    });
    // One statement on the pool, not a checked-out client running BEGIN, set_config, SELECT and COMMIT.
    expect(query).toHaveBeenCalledTimes(1);
    query.mockRestore();
  });

  it('leaves no tenant set on the connection: the next statement on it sees no row', async () => {
    await readCoherenceScore(reader, tenant('b'), 'PT24H');
    const client = await reader.connect();
    try {
      // The pool has one idle connection, the one the read used.
      expect((await client.query('SELECT tenant_id FROM coherence_scores')).rows).toEqual([]);
      expect((await client.query(`SELECT current_setting('app.tenant_id', true) AS t`)).rows[0].t ?? '').toBe('');
    } finally {
      client.release();
    }
  });

  it('answers UNKNOWN for a tenant without a score', async () => {
    expect(await readCoherenceScore(reader, tenant('none'), 'PT24H')).toMatchObject({ score: null, status: 'UNKNOWN', asOf: null });
  });
});
