import { startTelemetry } from '@coherence/telemetry';

// Tracing starts before anything it instruments is loaded, hence the dynamic
// imports below (docs/adr/0020-traces.md).
await startTelemetry({ serviceName: 'gateway', keepRefusedRequests: true, libraryInstrumentations: false });
const { runService } = await import('@coherence/platform');
const { readGatewayConfig } = await import('./config');
const { createGateway } = await import('./createGateway');

await runService({
  name: 'gateway',
  readConfig: readGatewayConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listen: (config) => ({ port: config.GATEWAY_PORT, host: config.GATEWAY_HOST }),
  listenAdmin: (config) => ({ port: config.GATEWAY_ADMIN_PORT, host: config.GATEWAY_ADMIN_HOST }),
  create: createGateway,
});
