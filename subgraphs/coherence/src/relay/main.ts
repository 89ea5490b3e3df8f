import { startTelemetry } from '@coherence/telemetry';

// Tracing starts before anything it instruments is loaded, hence the dynamic
// imports below (docs/adr/0020-traces.md).
await startTelemetry({ serviceName: 'relay' });
const { runService } = await import('@coherence/platform');
const { readRelayConfig } = await import('../config');
const { createRelayService } = await import('./createRelayService');

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
