import pg from 'pg';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

/**
 * A pool whose errors on idle clients are logged instead of crashing the process, and on checked-out ones too:
 * the pool listens to a client only while it is idle, so a server that goes away (a restart, a failover) while a
 * client sits in a transaction between two queries (the relay writing to Neo4j) would otherwise raise an uncaught
 * 'error' (docs/runbooks/drills/postgres-primary-restart.md). That client's next query fails with a connection error,
 * which its caller handles, and the pool discards it on release.
 */
export function createPgPool(connectionString: string, options: { max?: number; onIdleError?: (error: Error) => void } = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
  pool.on('error', (error) => options.onIdleError?.(error));
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** Runs `work` in one transaction, committing on success and rolling back on any error. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Scopes the rest of the current transaction to one tenant: row-level
 * security policies compare `tenant_id` with this setting, so a query that
 * forgets a WHERE clause still cannot see another tenant's rows.
 */
export async function setTenant(client: pg.PoolClient, tenantId: string): Promise<void> {
  await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
}
