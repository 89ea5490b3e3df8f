import { runService } from '@coherence/platform';
import { readCommsWorkerConfig } from '../config';
import { createWorkerService } from './createWorkerService';

let startWork: () => Promise<void> = async () => undefined;
await runService({
  name: 'comms-worker',
  readConfig: readCommsWorkerConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listenAdmin: (config) => ({ port: config.COMMS_WORKER_ADMIN_PORT, host: config.COMMS_WORKER_ADMIN_HOST }),
  create: async (config, logger) => {
    const service = await createWorkerService(config, logger);
    startWork = () => service.start();
    return service;
  },
  afterListen: () => void startWork(),
});
