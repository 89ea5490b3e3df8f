import { fileURLToPath } from 'node:url';

/**
 * The gateway's tables (tenants, policy_decisions); run after platform's.
 * Its own module (`@coherence/gateway/migrations`) so the migrator loads a path, not the service.
 */
export const gatewayMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));
