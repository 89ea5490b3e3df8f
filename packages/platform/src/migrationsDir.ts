import { fileURLToPath } from 'node:url';

/**
 * Migrations shared by every service (security events); run after ingest's, which creates the roles.
 * Its own module (`@coherence/platform/migrations`) so the migrator loads a path, not the service.
 */
export const platformMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));
