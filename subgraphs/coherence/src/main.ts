import { startTelemetry } from '@coherence/telemetry';

// Tracing starts before anything it instruments is loaded, hence the dynamic
// imports below (docs/adr/0020-traces.md).
await startTelemetry({ serviceName: 'coherence' });
const { runService } = await import('@coherence/platform');
const { readCoherenceConfig } = await import('./config');
const { createCoherenceService } = await import('./createCoherenceService');

await runService({
  name: 'coherence',
  readConfig: readCoherenceConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listen: (config) => ({ port: config.COHERENCE_PORT, host: config.COHERENCE_HOST }),
  listenAdmin: (config) => ({ port: config.COHERENCE_ADMIN_PORT, host: config.COHERENCE_ADMIN_HOST }),
  create: createCoherenceService,
});
