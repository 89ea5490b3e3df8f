import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createPgPool, type PgPool } from '@coherence/platform';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApplication } from './support/startApplication';

/**
 * `tenantCoherenceHistory` through the gateway: the persisted operation, the
 * policy (read like `tenantCoherence`) and the subgraph's read of
 * coherence_score_history under row-level security.
 */
const historyId = manifest.operations.findLast((op) => op.name === 'TenantCoherenceHistory')!.id;

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;
const tenant = (name: string) => `${database.namespace}-${name}`;

interface HistoryAnswer {
  data?: { tenantCoherenceHistory: { points: { score: number | null; status: string; changedAt: string }[]; nextBefore: string | null } };
  errors?: { extensions: { code: string; reasonCode?: string } }[];
}

async function readHistory(headers: Record<string, string>, variables: Record<string, unknown>) {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: historyId } }, variables }),
  });
  return { status: response.status, body: (await response.json()) as HistoryAnswer };
}

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  app = await startApplication(inject('services'), database);
  admin = createPgPool(database.adminUrl);
  // What the relay records on each change; written directly so the test owns the instants.
  for (const [name, score, minute] of [
    ['acme', 0.9, 1],
    ['globex', 0.2, 2],
    ['acme', 0.6, 3],
    ['acme', null, 4],
  ] as const) {
    await admin.query(`INSERT INTO coherence_score_history (tenant_id, score, status, changed_at, message) VALUES ($1, $2, $3, $4, '{}')`, [
      tenant(name),
      score,
      score === null ? 'UNKNOWN' : score >= 0.75 ? 'HEALTHY' : 'WARN',
      `2026-11-27T05:0${minute}:00Z`,
    ]);
  }
});

afterAll(async () => {
  await admin?.end();
  await app?.stop();
  await database?.drop();
});

describe('tenantCoherenceHistory through the gateway', () => {
  it("answers the token's own tenant its changes, newest first, a page at a time", async () => {
    const headers = await app.readHeaders(tenant('acme'));
    const first = await readHistory(headers, { tenantId: tenant('acme'), limit: 2 });
    expect(first.status).toBe(200);
    expect(first.body.errors).toBeUndefined();
    const page = first.body.data!.tenantCoherenceHistory;
    expect(page.points.map((point) => [point.score, point.status])).toEqual([
      [null, 'UNKNOWN'],
      [0.6, 'WARN'],
    ]);
    expect(new Date(page.points[0]!.changedAt).toISOString()).toBe('2026-11-27T05:04:00.000Z');
    const second = await readHistory(headers, { tenantId: tenant('acme'), limit: 2, before: page.nextBefore });
    expect(second.body.data!.tenantCoherenceHistory).toMatchObject({
      points: [expect.objectContaining({ score: 0.9, status: 'HEALTHY' })],
      nextBefore: null,
    });
  });

  it("refuses another tenant's id with 403 TENANT_MISMATCH and no data", async () => {
    const refused = await readHistory(await app.readHeaders(tenant('acme')), { tenantId: tenant('globex') });
    expect(refused.status).toBe(403);
    expect(refused.body.data).toBeUndefined();
    expect(refused.body.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN', reasonCode: 'TENANT_MISMATCH' }) }),
    ]);
  });

  it('refuses a limit over the bound as bad input', async () => {
    const tooMany = await readHistory(await app.readHeaders(tenant('acme')), { tenantId: tenant('acme'), limit: 501 });
    expect(tooMany.body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    expect(tooMany.body.data ?? null).toBeNull();
  });
});
