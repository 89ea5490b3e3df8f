import { fileURLToPath } from 'node:url';

/**
 * SQL migrations owned by comms; run after ingest's (which creates the roles) and the gateway's (`tenants`, read by the operator API).
 * Its own module (`@coherence/comms/migrations`) so the migrator loads a path, not the service.
 */
export const commsMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));
