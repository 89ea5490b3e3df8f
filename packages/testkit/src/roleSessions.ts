import { randomUUID } from 'node:crypto';
import pg from 'pg';

/**
 * Sessions as the services' own Postgres roles (docs/adr/0015-service-roles.md),
 * for tests of what each role may and may not do: one small pool per role,
 * every piece of work in a transaction that is rolled back, so a test that
 * was let through by mistake changes nothing.
 */
export function createRoleSessions<Role extends string>(urls: Readonly<Record<Role, string>>) {
  const pools = new Map<Role, pg.Pool>();
  const poolOf = (role: Role): pg.Pool => {
    let pool = pools.get(role);
    if (!pool) {
      pool = new pg.Pool({ connectionString: urls[role], max: 2 });
      // A test database is dropped WITH (FORCE) after the run: the FATAL its idle clients get is expected.
      pool.on('error', () => undefined);
      pools.set(role, pool);
    }
    return pool;
  };

  /** Runs `work` as `role` in a transaction that is rolled back, whatever happened. */
  async function rolledBack<T>(role: Role, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await poolOf(role).connect();
    try {
      await client.query('BEGIN');
      return await work(client);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  return {
    /** The role's pool, for a query outside a transaction. */
    pool: poolOf,
    rolledBack,
    /** `sql` as `role`, scoped to `tenantId` as the services scope their transactions; its rows. */
    asTenant: (role: Role, tenantId: string, sql: string, values: unknown[] = []) =>
      rolledBack(role, async (client) => {
        await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
        return (await client.query(sql, values)).rows;
      }),
    async close(): Promise<void> {
      for (const pool of pools.values()) await pool.end();
    },
  };
}

/** Gives `tenantId` what an attacker would go for in comms: a webhook contact and a command waiting in troubleshooting. */
export async function seedCommsTargets(admin: pg.Pool, tenantId: string): Promise<void> {
  await admin.query(
    `INSERT INTO comms_contacts (tenant_id, contact_id, channel, url) VALUES ($1, 'ops', 'webhook', 'https://example.com/hook')`,
    [tenantId],
  );
  await admin.query(
    `INSERT INTO dispatch_commands (command_id, tenant_id, type, idempotency_key, state, payload) VALUES ($1, $2, 'notify', 'k', 'troubleshooting', '{}')`,
    [randomUUID(), tenantId],
  );
}
