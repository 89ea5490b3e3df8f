import { createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The walking skeleton end to end on the real servers: signals pushed to
 * ingest, projected by the relay into Neo4j and the read model, read through
 * the gateway by persisted id, with an operator token (gateway security has
 * its own table-driven test: e2e/security.e2e.ts).
 */
const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;
let operatorToken: string;

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  app = await startApplication(services, database);
  admin = createPgPool(database.adminUrl);
  // The gateway serves only registered tenants residing in its region (us).
  for (const name of ['acme', 'globex', 'nobody', 'x']) await app.registerTenant(`${database.namespace}-${name}`);
  operatorToken = await app.mintToken({ tenant: `${database.namespace}-ops`, scopes: ['coherence:read'] });
});

afterAll(async () => {
  await app?.stop();
  await admin?.end();
  await database?.drop();
});

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function readCoherence(tenantId: string) {
  const response = await postJson(
    `${app.gatewayUrl}/graphql`,
    { extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } },
    { authorization: `Bearer ${operatorToken}` },
  );
  expect(response.status).toBe(200);
  return (await response.json()) as { data?: { tenantCoherence: Record<string, unknown> }; errors?: unknown[] };
}

async function counts() {
  const { rows } = await admin.query<{ ledger: number; outbox: number }>(
    'SELECT (SELECT count(*)::int FROM signal_ledger) AS ledger, (SELECT count(*)::int FROM outbox) AS outbox',
  );
  return rows[0]!;
}

/** The formula of docs/architecture.md written out again, independently of computeCoherence. */
function expectedScore(signals: { source: string; value: number; weight?: number }[]) {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const w = (s: { weight?: number }) => s.weight ?? 1;
  const score = sum(signals.map((s) => w(s) * s.value)) / sum(signals.map(w));
  const sources = [...new Set(signals.map((s) => s.source))].map((source) => {
    const own = signals.filter((s) => s.source === source);
    return { source, mean: sum(own.map((s) => w(s) * s.value)) / sum(own.map(w)), count: own.length };
  });
  const means = sources.map((s) => s.mean);
  return { score, agreement: 1 - (Math.max(...means) - Math.min(...means)), sources };
}

describe('walking skeleton', () => {
  const tenantA = () => `${database.namespace}-acme`;
  const tenantB = () => `${database.namespace}-globex`;

  const batchFor = () => ({
    signals: [
      { tenantId: tenantA(), source: 'checkout', signalId: 'a1', ts: minutesAgo(30), type: 'latency', value: 0.92, weight: 2 },
      { tenantId: tenantA(), source: 'checkout', signalId: 'a2', ts: minutesAgo(20), type: 'latency', value: 0.81 },
      { tenantId: tenantA(), source: 'search', signalId: 'a3', ts: minutesAgo(10), type: 'errors', value: 0.64, weight: 0.5 },
      { tenantId: tenantB(), source: 'billing', signalId: 'b1', ts: minutesAgo(15), type: 'errors', value: 0.31, weight: 3 },
      { tenantId: tenantB(), source: 'ledger', signalId: 'b2', ts: minutesAgo(5), type: 'drift', value: 0.57 },
    ],
  });
  let batch: ReturnType<typeof batchFor>;

  /** Ingest takes one tenant's signals per token, so the batch goes in as one post per tenant. */
  async function postPerTenant(signals: ReturnType<typeof batchFor>['signals']) {
    const results = [];
    for (const tenantId of [tenantA(), tenantB()]) {
      const response = await postJson(
        `${app.ingestUrl}/v1/signals`,
        { signals: signals.filter((s) => s.tenantId === tenantId) },
        await app.writeHeaders(tenantId),
      );
      results.push({ status: response.status, body: await response.json() });
    }
    return results;
  }

  it("accepts each tenant's batch with 202 after commit", async () => {
    batch = batchFor();
    expect(await postPerTenant(batch.signals)).toEqual([
      { status: 202, body: { accepted: 3, deduped: 0 } },
      { status: 202, body: { accepted: 2, deduped: 0 } },
    ]);
    expect(await counts()).toEqual({ ledger: 5, outbox: 2 });
  });

  it('serves each tenant the score the formula gives, through the gateway by persisted id', async () => {
    expect(await app.relay.drainAll()).toBe(2);
    for (const tenantId of [tenantA(), tenantB()]) {
      const expected = expectedScore(batch.signals.filter((s) => s.tenantId === tenantId));
      const { data, errors } = await readCoherence(tenantId);
      expect(errors).toBeUndefined();
      const coherence = data!.tenantCoherence;
      expect(coherence['tenantId']).toBe(tenantId);
      expect(coherence['score']).toBeCloseTo(expected.score, 4);
      expect(coherence['agreement']).toBeCloseTo(expected.agreement, 4);
      expect(coherence['status']).toBe(expected.score >= 0.75 ? 'HEALTHY' : expected.score >= 0.5 ? 'WARN' : 'CRITICAL');
      expect(coherence['window']).toBe('PT24H');
      const sources = coherence['sources'] as { source: string; score: number; count: number }[];
      expect(sources.map((s) => s.source).sort()).toEqual(expected.sources.map((s) => s.source).sort());
      for (const source of expected.sources) {
        const served = sources.find((s) => s.source === source.source)!;
        expect(served.score).toBeCloseTo(source.mean, 4);
        expect(served.count).toBe(source.count);
      }
      // Fields from the ingest and comms subgraphs arrive through the same entity.
      expect(coherence['ingest']).toMatchObject({
        backlog: 0,
        dedupeRate: 0,
        accepted24h: expected.sources.reduce((n, s) => n + s.count, 0),
      });
      expect(coherence['openAlerts']).toBe(0);
    }
  });

  it('stores a replayed batch once and reports every signal as deduped', async () => {
    const before = await counts();
    expect(await postPerTenant(batch.signals)).toEqual([
      { status: 202, body: { accepted: 0, deduped: 3 } },
      { status: 202, body: { accepted: 0, deduped: 2 } },
    ]);
    expect(await counts()).toEqual(before);
    const { data } = await readCoherence(tenantA());
    expect((data!.tenantCoherence['ingest'] as { dedupeRate: number }).dedupeRate).toBeCloseTo(0.5, 4);
  });

  it('projects a re-delivered outbox event without changing the graph', async () => {
    const graphCount = async () =>
      (
        await app.driver.executeQuery('MATCH (t:Tenant {id: $id})-[:EMITS]->(s:Signal)-[:FROM]->(:Source) RETURN count(s) AS n', {
          id: tenantA(),
        })
      ).records[0]!.get('n');
    expect(await graphCount()).toBe(3);
    await admin.query('UPDATE outbox SET processed_at = NULL');
    expect(await app.relay.drainAll()).toBe(2);
    expect(await graphCount()).toBe(3);
  });

  it('reports a registered tenant without signals as UNKNOWN with no score', async () => {
    const { data } = await readCoherence(`${database.namespace}-nobody`);
    expect(data!.tenantCoherence).toMatchObject({ score: null, status: 'UNKNOWN', agreement: null, sources: [] });
  });
});

describe('refused requests change nothing', () => {
  it.each([
    ['free-text query', { query: '{ tenantCoherence(tenantId: "x") { score } }' }, 400, 'PERSISTED_QUERY_REQUIRED'],
    [
      'free text sent along with a hash (APQ registration)',
      { query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } },
      400,
      'PERSISTED_QUERY_REQUIRED',
    ],
    ['unknown id', { extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } }, 400, 'PERSISTED_QUERY_NOT_FOUND'],
    ['no operation at all', { variables: {} }, 400, 'PERSISTED_QUERY_REQUIRED'],
    ['a batch', [{ extensions: {} }], 400, 'MALFORMED_REQUEST'],
    ['malformed JSON', '{"extensions": ', 400, 'MALFORMED_JSON'],
  ])('gateway: %s → %s %s', async (_name, body, status, code) => {
    const before = await counts();
    const response = await postJson(`${app.gatewayUrl}/graphql`, body, { authorization: `Bearer ${operatorToken}` });
    expect(response.status).toBe(status);
    const json = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(json.errors[0]!.extensions.code).toBe(code);
    expect(await counts()).toEqual(before);
  });

  it('gateway: the persisted id also works as documentId and over GET', async () => {
    const tenantId = `${database.namespace}-x`;
    const authorization = `Bearer ${operatorToken}`;
    const byDocumentId = await postJson(
      `${app.gatewayUrl}/graphql`,
      { documentId: `sha256:${tenantCoherenceId}`, variables: { tenantId } },
      { authorization },
    );
    expect(((await byDocumentId.json()) as { data: unknown }).data).toBeTruthy();
    const params = new URLSearchParams({
      extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }),
      variables: JSON.stringify({ tenantId }),
    });
    const overGet = await fetch(`${app.gatewayUrl}/graphql?${params}`, { headers: { authorization } });
    expect(overGet.status).toBe(200);
    expect(((await overGet.json()) as { data: { tenantCoherence: { status: string } } }).data.tenantCoherence.status).toBe('UNKNOWN');
  });

  it('ingest: malformed JSON → 400 MALFORMED_JSON', async () => {
    const before = await counts();
    const response = await postJson(`${app.ingestUrl}/v1/signals`, '{"signals": [', await app.writeHeaders(`${database.namespace}-acme`));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'MALFORMED_JSON' } });
    expect(await counts()).toEqual(before);
  });

  it('ingest: a batch with one unknown field is refused whole, naming the field', async () => {
    const before = await counts();
    const good = { tenantId: `${database.namespace}-acme`, source: 's', signalId: 'ok', ts: minutesAgo(1), type: 't', value: 0.5 };
    const response = await postJson(
      `${app.ingestUrl}/v1/signals`,
      { signals: [good, { ...good, signalId: 'bad', colour: 'red' }] },
      await app.writeHeaders(good.tenantId),
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; issues: { path: string; rule: string }[] } };
    expect(body.error.code).toBe('INVALID_SIGNAL');
    expect(body.error.issues).toContainEqual(expect.objectContaining({ path: 'signals[1].colour', rule: 'unknown_field' }));
    expect(await counts()).toEqual(before);
  });

  it('ingest: a body that is not JSON → 415', async () => {
    const headers = { 'content-type': 'text/plain', ...(await app.writeHeaders(`${database.namespace}-acme`)) };
    const response = await fetch(`${app.ingestUrl}/v1/signals`, { method: 'POST', headers, body: 'hi' });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
  });
});

describe('tenant isolation in Postgres', () => {
  it("lets ingest's role see only the tenant set for the transaction", async () => {
    const appPool = createPgPool(database.urls.ingest);
    try {
      const client = await appPool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [`${database.namespace}-acme`]);
        const { rows } = await client.query<{ tenant_id: string }>('SELECT DISTINCT tenant_id FROM signal_ledger');
        expect(rows.map((r) => r.tenant_id)).toEqual([`${database.namespace}-acme`]);
        await expect(
          client.query(
            `INSERT INTO signal_ledger (tenant_id, source, signal_id, ts, type, value, weight, provenance)
             VALUES ($1, 's', 'x', now(), 't', 0.5, 1, '{}')`,
            [`${database.namespace}-globex`],
          ),
        ).rejects.toThrow(/row-level security/);
        await client.query('ROLLBACK');
        const none = await client.query('SELECT count(*)::int AS n FROM signal_ledger');
        expect(none.rows[0]).toEqual({ n: 0 });
      } finally {
        client.release();
      }
    } finally {
      await appPool.end();
    }
  });
});
