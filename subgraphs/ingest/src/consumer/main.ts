import { startTelemetry } from '@coherence/telemetry';

// Tracing starts before anything it instruments is loaded, hence the dynamic
// imports below (docs/adr/0020-traces.md).
await startTelemetry({ serviceName: 'ingest-consumer' });
const { runService } = await import('@coherence/platform');
const { readIngestConsumerConfig } = await import('../config');
const { createConsumerService } = await import('./createConsumerService');

await runService({
  name: 'ingest-consumer',
  readConfig: readIngestConsumerConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listenAdmin: (config) => ({ port: config.INGEST_CONSUMER_ADMIN_PORT, host: config.INGEST_CONSUMER_ADMIN_HOST }),
  create: createConsumerService,
});
