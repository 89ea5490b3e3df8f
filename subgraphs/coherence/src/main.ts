import { runService } from '@coherence/platform';
import { readCoherenceConfig } from './config';
import { createCoherenceService } from './createCoherenceService';

await runService({
  name: 'coherence',
  readConfig: readCoherenceConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listen: (config) => ({ port: config.COHERENCE_PORT, host: config.COHERENCE_HOST }),
  listenAdmin: (config) => ({ port: config.COHERENCE_ADMIN_PORT, host: config.COHERENCE_ADMIN_HOST }),
  create: createCoherenceService,
});
