import { fileURLToPath } from 'node:url';

/**
 * SQL migrations owned by ingest (ledger, outbox, counters, idempotency keys; roles).
 * Its own module (`@coherence/ingest/migrations`) so the migrator loads a path, not the service.
 */
export const ingestMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));
