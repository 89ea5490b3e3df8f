import { inClientSpan, inRecordedWork, statementKeyword } from '@coherence/telemetry';
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
export function createPgPool(
  connectionString: string,
  options: {
    max?: number;
    onIdleError?: (error: Error) => void;
    /** Each query in a sampled trace is a client span: for a process without the `pg` instrumentation (the gateway). */
    traceQueries?: boolean;
  } = {},
): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
  pool.on('error', (error) => options.onIdleError?.(error));
  pool.on('connect', (client) => client.on('error', () => undefined));
  if (options.traceQueries === true) pool.on('connect', (client) => traceClientQueries(client, connectionString));
  return pool;
}

type QueryCallback = (error: Error | undefined, result: unknown) => void;

/**
 * Runs each query of `client` in a client span (inClientSpan: only inside
 * recorded work), named and described as the `pg` instrumentation would
 * (`pg.query:SELECT db`), so the gateway's queries look like every other
 * process's in a trace (docs/adr/0020-traces.md). Both of pg's call forms
 * are kept: the promise our code uses and the callback the pool uses for
 * `pool.query`.
 */
function traceClientQueries(client: pg.PoolClient, connectionString: string): void {
  const { hostname, port, pathname } = new URL(connectionString);
  const database = decodeURIComponent(pathname.slice(1));
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  client.query = ((...args: unknown[]) => {
    // Most queries run in no sampled trace: they go straight through, with no promise or callback in between.
    if (!inRecordedWork()) return query(...args);
    const [first] = args;
    // A submittable (a cursor, a stream) is returned as it is, untraced.
    const config = first as { text?: unknown; submit?: unknown } | undefined;
    const text = typeof first === 'string' ? first : typeof config?.submit === 'function' ? undefined : config?.text;
    if (typeof text !== 'string') return query(...args);
    const callback = typeof args.at(-1) === 'function' ? (args.pop() as QueryCallback) : undefined;
    const operation = statementKeyword(text);
    const description = {
      name: `pg.query:${operation} ${database}`,
      attributes: {
        'db.system.name': 'postgresql',
        'db.namespace': database,
        'db.operation.name': operation,
        'db.query.text': text,
        'server.address': hostname,
        'server.port': Number(port || 5432),
      },
    };
    const result = inClientSpan(
      () => description,
      () =>
        callback === undefined
          ? (query(...args) as Promise<unknown>)
          : new Promise((resolve, reject) =>
              query(...args, (error: Error | undefined, rows: unknown) => (error ? reject(error) : resolve(rows))),
            ),
    );
    if (callback === undefined) return result;
    result.then(
      (rows) => callback(undefined, rows),
      (error: Error) => callback(error, undefined),
    );
    return undefined;
  }) as typeof client.query;
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
