import { startTelemetry } from '@coherence/telemetry';

// Tracing starts before anything it instruments is loaded, hence the dynamic
// imports below (docs/adr/0020-traces.md).
await startTelemetry({ serviceName: 'ingest' });
const { runService } = await import('@coherence/platform');
const { readIngestConfig } = await import('./config');
const { createIngestService } = await import('./createIngestService');

await runService({
  name: 'ingest',
  readConfig: readIngestConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listen: (config) => ({ port: config.INGEST_PORT, host: config.INGEST_HOST }),
  listenAdmin: (config) => ({ port: config.INGEST_ADMIN_PORT, host: config.INGEST_ADMIN_HOST }),
  create: async (config, logger) => {
    const service = await createIngestService(config, logger);
    // The subgraph listens first on its own port; runService then opens the
    // producers' and closes both (service.close) on SIGTERM.
    const address = await service.subgraph.listen({ port: config.INGEST_SUBGRAPH_PORT, host: config.INGEST_SUBGRAPH_HOST });
    logger.info({ address }, 'ingest subgraph listening');
    return service;
  },
});
