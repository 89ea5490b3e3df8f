import { runService } from '@coherence/platform';
import { readGatewayConfig } from './config';
import { createGateway } from './createGateway';

await runService({
  name: 'gateway',
  readConfig: readGatewayConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listen: (config) => ({ port: config.GATEWAY_PORT, host: config.GATEWAY_HOST }),
  listenAdmin: (config) => ({ port: config.GATEWAY_ADMIN_PORT, host: config.GATEWAY_ADMIN_HOST }),
  create: createGateway,
});
