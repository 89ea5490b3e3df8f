import { runService } from '@coherence/platform';
import { readIngestConsumerConfig } from '../config';
import { createConsumerService } from './createConsumerService';

await runService({
  name: 'ingest-consumer',
  readConfig: readIngestConsumerConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listenAdmin: (config) => ({ port: config.INGEST_CONSUMER_ADMIN_PORT, host: config.INGEST_CONSUMER_ADMIN_HOST }),
  create: createConsumerService,
});
