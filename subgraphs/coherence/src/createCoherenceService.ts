import { createSubgraphService, type Logger } from '@coherence/platform';
import type { CoherenceConfig } from './config';
import { coherenceResolvers, type CoherenceContext } from './modules/coherence/resolvers';
import { coherenceTypeDefs } from './modules/coherence/schema.graphql';

/** The coherence subgraph: `tenantCoherence` over the Postgres read model. */
export function createCoherenceService(config: CoherenceConfig, logger: Logger) {
  const windowIso = `PT${config.COHERENCE_WINDOW_HOURS}H`;
  return createSubgraphService<CoherenceContext>({
    logger,
    databaseUrl: config.COHERENCE_DATABASE_URL,
    typeDefs: coherenceTypeDefs,
    resolvers: coherenceResolvers,
    context: (base) => ({ ...base, windowIso }),
  });
}
