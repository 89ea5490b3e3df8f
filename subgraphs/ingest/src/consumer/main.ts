import { runService } from '@coherence/platform';
import { readIngestConsumerConfig } from '../config';
import { createConsumerService } from './createConsumerService';

await runService({
  name: 'ingest-consumer',
  readConfig: readIngestConsumerConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listen: (config) => ({ port: config.INGEST_CONSUMER_PORT, host: config.INGEST_CONSUMER_HOST }),
  create: createConsumerService,
});
