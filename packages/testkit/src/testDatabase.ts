import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ServiceEndpoints } from './startServices';

// What the global setup hands every test file: `inject('services')`.
declare module 'vitest' {
  export interface ProvidedContext {
    services: ServiceEndpoints;
  }
}

/** Migrated once per run by the global setup; test databases are copies of it. */
export const TEMPLATE_DATABASE = 'coherence_template';

export function adminUrl(endpoints: ServiceEndpoints, database: string): string {
  return `postgres://postgres@${endpoints.postgres.host}:${endpoints.postgres.port}/${database}`;
}

export interface TestDatabase {
  name: string;
  /** Superuser: for test assertions that must see every tenant's rows. */
  adminUrl: string;
  /** coherence_app: what the services use; row-level security applies. */
  appUrl: string;
  /** coherence_relay: the relay's role (bypasses row-level security). */
  relayUrl: string;
  /** Tenant ids, topics and Redis keys of this test file start with it, so files never see each other's data. */
  namespace: string;
  drop(): Promise<void>;
}

/** Runs one statement as superuser in the maintenance database (CREATE/DROP DATABASE cannot run in a transaction). */
export async function adminQuery(endpoints: ServiceEndpoints, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl(endpoints, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database for one test file, plus a namespace for the servers that have no databases of their own. */
export async function createTestDatabase(endpoints: ServiceEndpoints): Promise<TestDatabase> {
  const namespace = `t${randomBytes(5).toString('hex')}`;
  const { host, port } = endpoints.postgres;
  await adminQuery(endpoints, `CREATE DATABASE ${namespace} TEMPLATE ${TEMPLATE_DATABASE}`);
  const url = (role: string) => `postgres://${role}@${host}:${port}/${namespace}`;
  return {
    name: namespace,
    adminUrl: url('postgres'),
    appUrl: url('coherence_app'),
    relayUrl: url('coherence_relay'),
    namespace,
    drop: () => adminQuery(endpoints, `DROP DATABASE IF EXISTS ${namespace} WITH (FORCE)`),
  };
}
