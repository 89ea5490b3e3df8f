import { coherenceMigrationsDir } from '@coherence/coherence';
import { commsMigrationsDir } from '@coherence/comms';
import { gatewayMigrationsDir } from '@coherence/gateway';
import { ingestMigrationsDir } from '@coherence/ingest';
import { createPgPool, platformMigrationsDir, runMigrations } from '@coherence/platform';

/** Every service's migrations, in dependency order (ingest creates the roles the others grant to). */
export const migrationSets = [
  { service: 'ingest', dir: ingestMigrationsDir },
  { service: 'platform', dir: platformMigrationsDir },
  { service: 'gateway', dir: gatewayMigrationsDir },
  { service: 'coherence', dir: coherenceMigrationsDir },
  { service: 'comms', dir: commsMigrationsDir },
] as const;

/** Brings a database up to date; `adminUrl` must be a superuser (it creates roles). */
export async function migrateDatabase(adminUrl: string): Promise<string[]> {
  const pool = createPgPool(adminUrl, { max: 1 });
  try {
    const applied: string[] = [];
    for (const { service, dir } of migrationSets) {
      for (const file of await runMigrations(pool, service, dir)) applied.push(`${service}/${file}`);
    }
    return applied;
  } finally {
    await pool.end();
  }
}
