import { runService } from '@coherence/platform';
import { readRelayConfig } from '../config';
import { createRelayService } from './createRelayService';

let startLoop: () => void = () => undefined;
await runService({
  name: 'relay',
  readConfig: readRelayConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listenAdmin: (config) => ({ port: config.RELAY_ADMIN_PORT, host: config.RELAY_ADMIN_HOST }),
  create: async (config, logger) => {
    const service = await createRelayService(config, logger);
    startLoop = () => service.relay.start();
    return service;
  },
  afterListen: () => startLoop(),
});
