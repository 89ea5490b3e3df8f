import { createSubgraphService, type Logger } from '@coherence/platform';
import type { IngestConfig } from './config';
import { registerSignalsRoute } from './modules/signals/signalsRoute';
import { statsResolvers, type IngestContext } from './modules/stats/resolvers';
import { statsTypeDefs } from './modules/stats/schema.graphql';

/** The ingest process: HTTP push (`POST /v1/signals`) plus its subgraph (ingest stats). */
export async function createIngestService(config: IngestConfig, logger: Logger) {
  const service = await createSubgraphService<IngestContext>({
    logger,
    databaseUrl: config.INGEST_DATABASE_URL,
    bodyLimitBytes: config.INGEST_BODY_LIMIT_BYTES,
    typeDefs: statsTypeDefs,
    resolvers: statsResolvers,
    context: (base) => base,
  });
  registerSignalsRoute(service.app, {
    pool: service.pool,
    maxSignalsPerBatch: config.INGEST_MAX_SIGNALS_PER_BATCH,
    defaultProvenance: {
      purpose: config.INGEST_DEFAULT_PURPOSE,
      retention: config.INGEST_DEFAULT_RETENTION,
      license: config.INGEST_DEFAULT_LICENSE,
      residency: config.INGEST_DEFAULT_RESIDENCY,
    },
  });
  return service;
}
