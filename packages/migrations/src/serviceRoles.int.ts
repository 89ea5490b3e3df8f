import { createPgPool, type PgClient, type PgPool } from '@coherence/platform';
import { createTestDatabase, SERVICE_ROLES, type ServiceRole, type TestDatabase } from '@coherence/devservices';
import { randomUUID } from 'node:crypto';
import { createRoleSessions, seedCommsTargets } from '@coherence/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The role map of docs/adr/0015-service-roles.md, against the migrated
 * schema: each process's role does its real queries, and is refused (42501,
 * permission denied) or shown nothing (row-level security) for the rest.
 */
let database: TestDatabase;
let admin: PgPool;
let sessions: ReturnType<typeof createRoleSessions<ServiceRole>>;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  admin = createPgPool(database.adminUrl, { max: 2 });
  sessions = createRoleSessions(database.urls);
  await admin.query(`INSERT INTO tenants (tenant_id, residency) VALUES ($1, 'us'), ($2, 'us'), ($3, 'eu')`, [
    usTenant(),
    otherUsTenant(),
    euTenant(),
  ]);
  for (const tenantId of [usTenant(), euTenant()]) {
    await admin.query(
      `INSERT INTO signal_ledger (tenant_id, source, signal_id, ts, type, value, weight, provenance) VALUES ($1, 'api', 's1', now(), 'health', 0.5, 1, '{}')`,
      [tenantId],
    );
    await admin.query(`INSERT INTO outbox (tenant_id, message_id, type, envelope) VALUES ($1, $2, 'SignalsAccepted', '{}')`, [
      tenantId,
      randomUUID(),
    ]);
    await admin.query(
      `INSERT INTO coherence_scores (tenant_id, score, status, window_iso, sources, as_of) VALUES ($1, 0.5, 'WARN', 'PT24H', '[]', now())`,
      [tenantId],
    );
    await seedCommsTargets(admin, tenantId);
  }
});

afterAll(async () => {
  await sessions?.close();
  await admin?.end();
  await database?.drop();
});

const usTenant = () => `${database.namespace}-us`;
const otherUsTenant = () => `${database.namespace}-us2`;
const euTenant = () => `${database.namespace}-eu`;

// The sessions exist once beforeAll has made the database.
const as = (role: ServiceRole): PgPool => sessions.pool(role);
const rolledBack = <T>(role: ServiceRole, work: (client: PgClient) => Promise<T>) => sessions.rolledBack(role, work);
const asTenant = (role: ServiceRole, tenantId: string, sql: string, values: unknown[] = []) =>
  sessions.asTenant(role, tenantId, sql, values);

/** `sql` as comms_app after taking operator access to `region`, as the worker and the operator API do. */
const asOperator = (region: string, sql: string, values: unknown[] = []) =>
  rolledBack('comms', async (client) => {
    await client.query('SELECT comms_operator_access($1)', [region]);
    return (await client.query(sql, values)).rows;
  });

const refused = (work: Promise<unknown>) =>
  expect(work).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/^permission denied/) });

describe('every service role', () => {
  it('logs in, bypasses no row-level security and owns nothing; the old relay role cannot log in', async () => {
    const { rows } = await admin.query<{ rolname: string; rolcanlogin: boolean; rolbypassrls: boolean; rolsuper: boolean }>(
      `SELECT rolname, rolcanlogin, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname`,
      [[...Object.values(SERVICE_ROLES), 'coherence_relay']],
    );
    expect(rows).toEqual(
      [...Object.values(SERVICE_ROLES), 'coherence_relay'].sort().map((rolname) => ({
        rolname,
        rolcanlogin: rolname !== 'coherence_relay',
        rolbypassrls: false,
        rolsuper: false,
      })),
    );
    const owned = await admin.query(`SELECT relname FROM pg_class WHERE relowner IN (SELECT oid FROM pg_roles WHERE rolname = ANY($1))`, [
      Object.values(SERVICE_ROLES),
    ]);
    expect(owned.rows).toEqual([]);
  });

  it('but comms_admin writes no contact or quiet hours (their writer is the tenant-admin API)', async () => {
    for (const role of Object.keys(SERVICE_ROLES).filter((r) => r !== 'commsAdmin') as ServiceRole[]) {
      await refused(
        asTenant(
          role,
          usTenant(),
          `INSERT INTO comms_contacts (tenant_id, contact_id, channel, url) VALUES ($1, 'x', 'webhook', 'https://evil.example')`,
          [usTenant()],
        ),
      );
      await refused(asTenant(role, usTenant(), `UPDATE comms_contacts SET url = 'https://evil.example'`));
      await refused(asTenant(role, usTenant(), `DELETE FROM comms_quiet_hours`));
    }
  });
});

describe('ingest_app', () => {
  it('stores signals and reads its tenant, its stats and the backlog', async () => {
    const header = { messageId: randomUUID(), type: 'SignalsAccepted' };
    const signals = [
      { source: 'api', signalId: 'n1', ts: new Date().toISOString(), type: 'health', value: 0.4, weight: 1, provenance: {} },
    ];
    const [stored] = await asTenant('ingest', usTenant(), 'SELECT ingest_store_signals($1, $2::jsonb, $3::jsonb) AS n', [
      usTenant(),
      JSON.stringify(signals),
      JSON.stringify(header),
    ]);
    expect(stored).toEqual({ n: 1 });
    expect(await asTenant('ingest', usTenant(), 'SELECT residency FROM tenants')).toEqual([{ residency: 'us' }]);
    expect(await asTenant('ingest', usTenant(), 'SELECT DISTINCT tenant_id FROM signal_ledger')).toEqual([{ tenant_id: usTenant() }]);
    expect((await as('ingest').query('SELECT ingest_outbox_backlog() AS n')).rows).toEqual([{ n: '0' }]);
    // The event stored above waits for a relay that does not run here: it has an age.
    const [{ lag }] = (await as('ingest').query<{ lag: number }>('SELECT ingest_outbox_lag_seconds() AS lag')).rows as [{ lag: number }];
    expect(lag).toBeGreaterThan(0);
  });

  it("reads its tenant's API clients only, and writes none (the client_id check; docs/adr/0031)", async () => {
    await admin.query(`INSERT INTO api_clients (tenant_id, client_id, scopes) VALUES ($1, 'producer', $2), ($3, 'producer', $2)`, [
      usTenant(),
      ['coherence:write:self'],
      otherUsTenant(),
    ]);
    expect(await asTenant('ingest', usTenant(), 'SELECT tenant_id, client_id FROM api_clients')).toEqual([
      { tenant_id: usTenant(), client_id: 'producer' },
    ]);
    await refused(asTenant('ingest', usTenant(), `UPDATE api_clients SET scopes = '{tenants:admin}'`));
    await refused(
      asTenant('ingest', usTenant(), `INSERT INTO api_clients (tenant_id, client_id, scopes) VALUES ($1, 'mine', '{}')`, [usTenant()]),
    );
  });

  it('cannot read or write comms tables, write scores or read policy decisions back', async () => {
    await refused(asTenant('ingest', usTenant(), 'UPDATE comms_contacts SET url = $1', ['https://evil.example']));
    await refused(asTenant('ingest', usTenant(), 'SELECT * FROM comms_contacts'));
    await refused(asTenant('ingest', usTenant(), 'SELECT * FROM dispatch_commands'));
    await refused(asTenant('ingest', usTenant(), 'SELECT * FROM comms_envelopes'));
    await refused(asTenant('ingest', usTenant(), `UPDATE coherence_scores SET score = 1`));
    await refused(asTenant('ingest', usTenant(), 'SELECT * FROM policy_decisions'));
    await refused(asTenant('ingest', usTenant(), 'SELECT * FROM security_events'));
  });

  it("sees no other tenant's ledger", async () => {
    expect(await asTenant('ingest', usTenant(), 'SELECT 1 FROM signal_ledger WHERE tenant_id = $1', [euTenant()])).toEqual([]);
  });
});

describe('gateway_app', () => {
  it('reads its tenant and records decisions and security events', async () => {
    expect(await asTenant('gateway', euTenant(), 'SELECT residency FROM tenants')).toEqual([{ residency: 'eu' }]);
    await asTenant(
      'gateway',
      euTenant(),
      `INSERT INTO policy_decisions (decision_id, tenant_id, subject, operation_id, operation_type, allow, reason_code, explanation, correlation_id, region, decided_at)
       VALUES ($1, $2, 's', 'op', 'query', false, 'SCOPE_MISSING', 'e', 'c', 'us', now())`,
      [randomUUID(), euTenant()],
    );
    await asTenant(
      'gateway',
      euTenant(),
      `INSERT INTO security_events (tenant_id, kind, service, reason, correlation_id) VALUES ($1, 'AUTH_DENY', 'gateway', 'r', 'c')`,
      [euTenant()],
    );
  });

  it('cannot read the ledger, the outbox, scores or comms tables', async () => {
    for (const table of ['signal_ledger', 'outbox', 'coherence_scores', 'dispatch_commands', 'comms_contacts', 'idempotency_keys']) {
      await refused(asTenant('gateway', usTenant(), `SELECT * FROM ${table}`));
    }
  });
});

describe('coherence_app', () => {
  it("reads its tenant's score only", async () => {
    expect(await asTenant('coherence', usTenant(), 'SELECT tenant_id FROM coherence_scores')).toEqual([{ tenant_id: usTenant() }]);
  });

  it("reads its tenant's score changes, not the messages recorded with them", async () => {
    const marker = 0.1234;
    for (const tenant of [usTenant(), otherUsTenant()])
      await admin.query(`INSERT INTO coherence_score_history (tenant_id, score, status, message) VALUES ($1, $2, 'CRITICAL', '{}')`, [
        tenant,
        marker,
      ]);
    try {
      expect(await asTenant('coherence', usTenant(), 'SELECT tenant_id FROM coherence_score_history WHERE score = $1', [marker])).toEqual([
        { tenant_id: usTenant() },
      ]);
      await refused(asTenant('coherence', usTenant(), 'SELECT message FROM coherence_score_history'));
    } finally {
      await admin.query('DELETE FROM coherence_score_history WHERE score = $1', [marker]);
    }
  });

  it('cannot write scores or read the ledger, the outbox or the whole score history', async () => {
    await refused(asTenant('coherence', usTenant(), 'UPDATE coherence_scores SET score = 1'));
    await refused(
      asTenant(
        'coherence',
        usTenant(),
        `INSERT INTO coherence_scores (tenant_id, status, window_iso, sources, as_of) VALUES ($1, 'UNKNOWN', 'x', '[]', now())`,
        [otherUsTenant()],
      ),
    );
    for (const table of ['signal_ledger', 'outbox', 'coherence_score_history', 'tenants']) {
      await refused(asTenant('coherence', usTenant(), `SELECT * FROM ${table}`));
    }
  });
});

describe('relay_app', () => {
  it("drains every tenant's outbox and upserts a tenant's score", async () => {
    const pending = await as('relay').query<{ tenant_id: string }>(
      'SELECT DISTINCT tenant_id FROM outbox WHERE processed_at IS NULL ORDER BY 1',
    );
    expect(pending.rows.map((row) => row.tenant_id)).toEqual(expect.arrayContaining([usTenant(), euTenant()]));
    expect(await asTenant('relay', usTenant(), 'UPDATE coherence_scores SET score = 0.6 RETURNING tenant_id')).toEqual([
      { tenant_id: usTenant() },
    ]);
  });

  it('cannot touch comms tables, contacts or the ledger', async () => {
    for (const table of ['dispatch_commands', 'comms_contacts', 'comms_envelopes', 'signal_ledger', 'tenants']) {
      await refused(asTenant('relay', usTenant(), `SELECT * FROM ${table}`));
    }
    await refused(asTenant('relay', usTenant(), `UPDATE comms_contacts SET url = 'https://evil.example'`));
  });
});

describe('comms_app', () => {
  it("sees the commands of its region's tenants through operator access, and no other region's", async () => {
    const seen = await asOperator('us', 'SELECT DISTINCT tenant_id FROM dispatch_commands ORDER BY 1');
    expect(seen).toEqual([{ tenant_id: usTenant() }]);
    expect(await asOperator('us', 'SELECT 1 FROM dispatch_commands WHERE tenant_id = $1', [euTenant()])).toEqual([]);
    expect(
      await asOperator('us', `UPDATE dispatch_commands SET state = 'cancelled' WHERE tenant_id = $1 RETURNING 1`, [euTenant()]),
    ).toEqual([]);
    expect(await asOperator('us', 'SELECT tenant_id FROM tenants ORDER BY 1')).toEqual([
      { tenant_id: usTenant() },
      { tenant_id: otherUsTenant() },
    ]);
  });

  it('cannot move a command into another region, nor see contacts across tenants, even with operator access', async () => {
    await expect(asOperator('us', 'UPDATE dispatch_commands SET tenant_id = $1', [euTenant()])).rejects.toMatchObject({
      code: '42501',
      message: expect.stringMatching(/row-level security/),
    });
    expect(await asOperator('us', 'SELECT tenant_id FROM comms_contacts')).toEqual([]);
  });

  it('keeps operator access to the transaction that took it', async () => {
    const client = await as('comms').connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT comms_operator_access('us')`);
      await client.query('COMMIT');
      expect((await client.query('SELECT tenant_id FROM dispatch_commands')).rows).toEqual([]);
      await client.query('BEGIN');
      await client.query(`SELECT txid_current()`);
      expect((await client.query('SELECT tenant_id FROM dispatch_commands')).rows).toEqual([]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });

  it('cannot see every tenant by setting a variable, nor forge a grant', async () => {
    const client = await as('comms').connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('app.comms_operator', 'on', true)`);
      await client.query(`SELECT set_config('app.tenant_id', '', true)`);
      expect((await client.query('SELECT tenant_id FROM dispatch_commands')).rows).toEqual([]);
      await client.query('ROLLBACK');
      await refused(
        client.query(
          `INSERT INTO comms_operator_grants (backend_pid, xact_id, region) VALUES (pg_backend_pid(), pg_current_xact_id(), 'eu')`,
        ),
      );
      await refused(client.query('SELECT * FROM comms_operator_grants'));
    } finally {
      client.release();
    }
  });

  it('cannot read the ledger, the outbox or scores', async () => {
    for (const table of ['signal_ledger', 'outbox', 'coherence_scores', 'idempotency_keys']) {
      await refused(asTenant('comms', usTenant(), `SELECT * FROM ${table}`));
    }
  });
});

describe('comms_admin', () => {
  it("writes its tenant's contacts and quiet hours, and no other tenant's", async () => {
    expect(
      await asTenant('commsAdmin', usTenant(), `UPDATE comms_contacts SET url = 'https://example.com/new' RETURNING tenant_id`),
    ).toEqual([{ tenant_id: usTenant() }]);
    await asTenant(
      'commsAdmin',
      usTenant(),
      `INSERT INTO comms_quiet_hours (tenant_id, time_zone, starts_at, ends_at) VALUES ($1, 'UTC', '22:00', '06:00')`,
      [usTenant()],
    );
    await expect(
      asTenant(
        'commsAdmin',
        usTenant(),
        `INSERT INTO comms_contacts (tenant_id, contact_id, channel, url) VALUES ($1, 'x', 'webhook', 'https://evil.example')`,
        [euTenant()],
      ),
    ).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/row-level security/) });
    await refused(asTenant('commsAdmin', usTenant(), 'SELECT * FROM dispatch_commands'));
  });
});

describe('retention_app', () => {
  it("counts and deletes every tenant's rows by their dates", async () => {
    const { rows } = await as('retention').query<{ n: number }>(
      "SELECT count(DISTINCT tenant_id)::int AS n FROM signal_ledger WHERE ts < now() + interval '1 day'",
    );
    expect(rows[0]!.n).toBeGreaterThanOrEqual(2);
    const deleted = await rolledBack('retention', (client) =>
      client.query(`DELETE FROM signal_ledger WHERE ctid IN (SELECT ctid FROM signal_ledger WHERE tenant_id = ANY($1))`, [
        [usTenant(), euTenant()],
      ]),
    );
    expect(deleted.rowCount).toBe(2);
  });

  it('only deletes: it reads no payload and inserts or updates nothing', async () => {
    await refused(as('retention').query('SELECT provenance FROM signal_ledger'));
    await refused(as('retention').query('SELECT envelope FROM outbox'));
    await refused(as('retention').query('SELECT payload FROM dispatch_commands'));
    await refused(as('retention').query(`UPDATE signal_ledger SET value = 0`));
    await refused(
      as('retention').query(
        `INSERT INTO security_events (tenant_id, kind, service, reason, correlation_id) VALUES ('x', 'AUTH_DENY', 'x', 'x', 'x')`,
      ),
    );
    await refused(as('retention').query('SELECT * FROM comms_contacts'));
    await refused(as('retention').query('DELETE FROM tenants'));
  });
});

describe('rebuild_app', () => {
  it("reads every tenant's ledger whole and writes one tenant's score, its history and its checkpoints", async () => {
    const { rows } = await as('rebuild').query<{ tenant_id: string; provenance: unknown }>(
      'SELECT tenant_id, provenance FROM signal_ledger WHERE tenant_id = ANY($1) ORDER BY tenant_id',
      [[usTenant(), euTenant()]],
    );
    expect(rows).toEqual([
      { tenant_id: euTenant(), provenance: {} },
      { tenant_id: usTenant(), provenance: {} },
    ]);
    const updated = await asTenant('rebuild', usTenant(), `UPDATE coherence_scores SET score = 0.6 RETURNING tenant_id`);
    expect(updated).toEqual([{ tenant_id: usTenant() }]);
    await rolledBack('rebuild', async (client) => {
      await client.query(`INSERT INTO graph_rebuild_progress (tenant_id) VALUES ($1)`, [usTenant()]);
      await client.query(
        `INSERT INTO coherence_score_history (tenant_id, score, status, changed_at, message) VALUES ($1, 0.6, 'WARN', now(), '{}') RETURNING id`,
        [usTenant()],
      );
    });
  });

  it("writes no other tenant's score and nothing outside the graph's read side", async () => {
    expect(
      await asTenant('rebuild', usTenant(), `UPDATE coherence_scores SET score = 0.6 WHERE tenant_id = $1 RETURNING tenant_id`, [
        euTenant(),
      ]),
    ).toEqual([]);
    await refused(as('rebuild').query(`UPDATE signal_ledger SET value = 0`));
    await refused(as('rebuild').query(`DELETE FROM signal_ledger`));
    await refused(as('rebuild').query('SELECT envelope FROM outbox'));
    await refused(as('rebuild').query('SELECT * FROM comms_contacts'));
    await refused(as('rebuild').query('SELECT * FROM policy_decisions'));
    await refused(as('rebuild').query('DELETE FROM coherence_score_history'));
  });
});
