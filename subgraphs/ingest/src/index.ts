import { fileURLToPath } from 'node:url';

export { statsTypeDefs as ingestTypeDefs } from './modules/stats/schema.graphql';
export { createIngestService } from './createIngestService';
export { readIngestConfig, type IngestConfig } from './config';
export { ingestErrorCodes } from './errors';

/** SQL migrations owned by ingest (ledger, outbox, counters; roles). */
export const ingestMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));
