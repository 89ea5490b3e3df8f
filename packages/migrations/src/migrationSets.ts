import { coherenceMigrationsDir } from '@coherence/coherence/migrations';
import { commsMigrationsDir } from '@coherence/comms/migrations';
import { gatewayMigrationsDir } from '@coherence/gateway/migrations';
import { ingestMigrationsDir } from '@coherence/ingest/migrations';
import { platformMigrationsDir } from '@coherence/platform/migrations';

/** One service's migrations: the `*.sql` files of `dir`, applied in file-name order and recorded under `service`. */
export interface MigrationSet {
  service: string;
  dir: string;
}

/**
 * Every service's migrations, in the order they are applied: ingest first (it
 * creates the roles the others grant to), the gateway before comms (comms'
 * operator API reads `tenants`).
 */
export const migrationSets: readonly MigrationSet[] = [
  { service: 'ingest', dir: ingestMigrationsDir },
  { service: 'platform', dir: platformMigrationsDir },
  { service: 'gateway', dir: gatewayMigrationsDir },
  { service: 'coherence', dir: coherenceMigrationsDir },
  { service: 'comms', dir: commsMigrationsDir },
];
