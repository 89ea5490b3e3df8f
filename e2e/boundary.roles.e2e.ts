import { createPgPool, type PgClient, type PgPool } from '@coherence/platform';
import { createTestDatabase, startApplication, type ServiceRole, type TestDatabase } from '@coherence/testkit';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Issue 14, the trust boundary in Postgres (docs/adr/0015-service-roles.md):
 * with the application running on its per-process roles and real data in
 * every store, someone holding one process's database URL tries what that
 * process has no business doing. Each attempt is refused (42501) or sees
 * nothing, and the data stays as it was.
 */
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;
const pools: PgPool[] = [];
let scoreBefore: unknown[];

const tenant = (name: string) => `${database.namespace}-${name}`;

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  app = await startApplication(services, database);
  admin = createPgPool(database.adminUrl, { max: 2 });
  await app.registerTenant(tenant('eu'), 'eu');
  const response = await fetch(`${app.ingestUrl}/v1/signals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await app.writeHeaders(tenant('acme'))) },
    body: JSON.stringify({
      signals: [
        { tenantId: tenant('acme'), source: 'api', signalId: 's1', ts: new Date().toISOString(), type: 'health', value: 0.9, weight: 1 },
      ],
    }),
  });
  expect(response.status).toBe(202);
  await app.relay.drainAll();
  scoreBefore = (await admin.query('SELECT status, score FROM coherence_scores WHERE tenant_id = $1', [tenant('acme')])).rows;
  expect(scoreBefore).toHaveLength(1);
  for (const tenantId of [tenant('acme'), tenant('eu')]) {
    await admin.query(
      `INSERT INTO comms_contacts (tenant_id, contact_id, channel, url) VALUES ($1, 'ops', 'webhook', 'https://example.com/hook')`,
      [tenantId],
    );
    await admin.query(
      `INSERT INTO dispatch_commands (command_id, tenant_id, type, idempotency_key, state, payload) VALUES ($1, $2, 'notify', 'k', 'troubleshooting', '{}')`,
      [randomUUID(), tenantId],
    );
  }
});

afterAll(async () => {
  for (const pool of pools) await pool.end();
  await app?.stop();
  await admin?.end();
  await database?.drop();
});

/** One transaction as `role`, scoped to `tenantId` as the services scope theirs; rolled back. */
async function as<T>(role: ServiceRole, tenantId: string, work: (client: PgClient) => Promise<T>): Promise<T> {
  const pool = createPgPool(database.urls[role], { max: 1 });
  pools.push(pool);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
    return await work(client);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

const permissionDenied = { code: '42501', message: expect.stringMatching(/^permission denied/) };

describe('a stolen service URL is refused what its process never does', () => {
  it("ingest's: rewrite a tenant's webhook URL, read its commands", async () => {
    await expect(
      as('ingest', tenant('acme'), (c) => c.query(`UPDATE comms_contacts SET url = 'https://evil.example'`)),
    ).rejects.toMatchObject(permissionDenied);
    await expect(as('ingest', tenant('acme'), (c) => c.query('SELECT payload FROM dispatch_commands'))).rejects.toMatchObject(
      permissionDenied,
    );
  });

  it("the gateway's: read the signal ledger or the outbox", async () => {
    await expect(as('gateway', tenant('acme'), (c) => c.query('SELECT * FROM signal_ledger'))).rejects.toMatchObject(permissionDenied);
    await expect(as('gateway', tenant('acme'), (c) => c.query('SELECT envelope FROM outbox'))).rejects.toMatchObject(permissionDenied);
  });

  it("coherence's: overwrite the score it serves", async () => {
    await expect(as('coherence', tenant('acme'), (c) => c.query(`UPDATE coherence_scores SET status = 'HEALTHY'`))).rejects.toMatchObject(
      permissionDenied,
    );
  });

  it("the relay's: read where notifications go", async () => {
    await expect(as('relay', tenant('acme'), (c) => c.query('SELECT url FROM comms_contacts'))).rejects.toMatchObject(permissionDenied);
  });

  it("retention's: read what a signal or a command carries", async () => {
    await expect(as('retention', tenant('acme'), (c) => c.query('SELECT provenance FROM signal_ledger'))).rejects.toMatchObject(
      permissionDenied,
    );
    await expect(as('retention', tenant('acme'), (c) => c.query('SELECT payload FROM dispatch_commands'))).rejects.toMatchObject(
      permissionDenied,
    );
  });

  it("comms': open every tenant with the old operator setting, or another region's with operator access", async () => {
    const everyone = await as('comms', '', async (c) => {
      await c.query(`SELECT set_config('app.comms_operator', 'on', true)`);
      return (await c.query('SELECT tenant_id FROM dispatch_commands')).rows;
    });
    expect(everyone).toEqual([]);
    const usOperator = await as('comms', '', async (c) => {
      await c.query(`SELECT comms_operator_access('us')`);
      return (
        await c.query('SELECT tenant_id FROM dispatch_commands WHERE tenant_id = ANY($1) ORDER BY 1', [[tenant('acme'), tenant('eu')]])
      ).rows;
    });
    expect(usOperator).toEqual([{ tenant_id: tenant('acme') }]);
    await expect(
      as('comms', tenant('acme'), (c) => c.query(`UPDATE comms_contacts SET url = 'https://evil.example'`)),
    ).rejects.toMatchObject(permissionDenied);
  });

  it('left every row as it was', async () => {
    const contacts = await admin.query('SELECT DISTINCT url FROM comms_contacts WHERE tenant_id = ANY($1)', [
      [tenant('acme'), tenant('eu')],
    ]);
    expect(contacts.rows).toEqual([{ url: 'https://example.com/hook' }]);
    const score = await admin.query('SELECT status, score FROM coherence_scores WHERE tenant_id = $1', [tenant('acme')]);
    expect(score.rows).toEqual(scoreBefore);
  });
});
