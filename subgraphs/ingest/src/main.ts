import { runService } from '@coherence/platform';
import { readIngestConfig } from './config';
import { createIngestService } from './createIngestService';

await runService({
  name: 'ingest',
  readConfig: readIngestConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listen: (config) => ({ port: config.INGEST_PORT, host: config.INGEST_HOST }),
  create: createIngestService,
});
