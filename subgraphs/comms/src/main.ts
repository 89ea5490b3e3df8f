import { startTelemetry } from '@coherence/telemetry';

// Tracing starts before anything it instruments is loaded, hence the dynamic
// imports below (docs/adr/0020-traces.md).
await startTelemetry({ serviceName: 'comms' });
const { runService } = await import('@coherence/platform');
const { readCommsConfig } = await import('./config');
const { createCommsService } = await import('./createCommsService');

await runService({
  name: 'comms',
  readConfig: readCommsConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listen: (config) => ({ port: config.COMMS_PORT, host: config.COMMS_HOST }),
  listenAdmin: (config) => ({ port: config.COMMS_ADMIN_PORT, host: config.COMMS_ADMIN_HOST }),
  create: async (config, logger) => {
    const service = await createCommsService(config, logger);
    // The inbound webhooks listen first on their own port; runService then
    // opens the subgraph's and closes both (service.close) on SIGTERM.
    const address = await service.inbound.listen({ port: config.COMMS_INBOUND_PORT, host: config.COMMS_INBOUND_HOST });
    logger.info({ address }, 'comms inbound webhooks listening');
    return service;
  },
});
