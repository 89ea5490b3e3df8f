export { migrationSets, type MigrationSet } from './migrationSets';
export { migrateDatabase, pendingMigrations, MigrationChecksumError, MigrationFailedError } from './migrateDatabase';
