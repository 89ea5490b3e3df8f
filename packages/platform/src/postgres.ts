import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

/** A pool whose errors on idle clients are logged instead of crashing the process. */
export function createPgPool(connectionString: string, options: { max?: number; onIdleError?: (error: Error) => void } = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
  pool.on('error', (error) => options.onIdleError?.(error));
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

/** Applies, in file-name order, the `*.sql` files of `dir` not yet recorded for `service`. */
export async function runMigrations(pool: pg.Pool, service: string, dir: string): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const applied: string[] = [];
  await inTransaction(pool, async (client) => {
    // One migrator at a time per database, whatever process runs it.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('coherence.migrations'))`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      service text NOT NULL, name text NOT NULL, sha256 text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (service, name))`);
    const done = await client.query<{ name: string; sha256: string }>('SELECT name, sha256 FROM schema_migrations WHERE service = $1', [
      service,
    ]);
    const doneByName = new Map(done.rows.map((r) => [r.name, r.sha256]));
    for (const file of files) {
      const sql = await readFile(join(dir, file), 'utf8');
      const sha256 = createHash('sha256').update(sql).digest('hex');
      const previous = doneByName.get(file);
      if (previous !== undefined) {
        if (previous !== sha256)
          throw new Error(`migration ${service}/${file} was edited after it was applied; add a new migration instead`);
        continue;
      }
      await client.query(sql);
      await client.query('INSERT INTO schema_migrations (service, name, sha256) VALUES ($1, $2, $3)', [service, file, sha256]);
      applied.push(file);
    }
  });
  return applied;
}
