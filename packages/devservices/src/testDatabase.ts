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

/** The role each process connects as (docs/adr/0015-service-roles.md); row-level security applies to every one. */
export const SERVICE_ROLES = {
  ingest: 'ingest_app',
  relay: 'relay_app',
  coherence: 'coherence_app',
  comms: 'comms_app',
  gateway: 'gateway_app',
  retention: 'retention_app',
  /** `npm run graph:rebuild`: reads every tenant's ledger, writes scores. */
  rebuild: 'rebuild_app',
  /** Writes comms' contacts and quiet hours: the tenant-admin API's role (no process uses it yet). */
  commsAdmin: 'comms_admin',
} as const;

export type ServiceRole = keyof typeof SERVICE_ROLES;

export interface TestDatabase {
  name: string;
  /** Superuser: for test assertions that must see every tenant's rows. */
  adminUrl: string;
  /** The URL of this database as each process's role ({@link SERVICE_ROLES}). */
  urls: Record<ServiceRole, string>;
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
    urls: Object.fromEntries(Object.entries(SERVICE_ROLES).map(([service, role]) => [service, url(role)])) as Record<ServiceRole, string>,
    namespace,
    drop: () => adminQuery(endpoints, `DROP DATABASE IF EXISTS ${namespace} WITH (FORCE)`),
  };
}
