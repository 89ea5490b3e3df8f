import { fileURLToPath } from 'node:url';

/**
 * SQL migrations owned by coherence (the read model); run after ingest's.
 * Its own module (`@coherence/coherence/migrations`) so the migrator loads a path, not the service.
 */
export const coherenceMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));
