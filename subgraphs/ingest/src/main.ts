import { runService } from '@coherence/platform';
import { readIngestConfig } from './config';
import { createIngestService } from './createIngestService';

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
