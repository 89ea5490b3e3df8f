import { runService } from '@coherence/platform';
import { readCommsConfig } from './config';
import { createCommsService } from './createCommsService';

await runService({
  name: 'comms',
  readConfig: readCommsConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listen: (config) => ({ port: config.COMMS_PORT, host: config.COMMS_HOST }),
  create: createCommsService,
});
