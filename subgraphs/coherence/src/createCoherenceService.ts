import { createSubgraphService, type Logger } from '@coherence/platform';
import type { CoherenceConfig } from './config';
import { coherenceTypeDefs } from './coherenceTypeDefs';
import { createNeo4jDriver } from './graph/signalGraph';
import { coherenceResolvers, type CoherenceContext } from './modules/coherence/resolvers';

/** The coherence subgraph: `tenantCoherence` over the Postgres read model, `signals` from the graph. */
export async function createCoherenceService(config: CoherenceConfig, logger: Logger) {
  const windowIso = `PT${config.COHERENCE_WINDOW_HOURS}H`;
  const driver = createNeo4jDriver(
    config.NEO4J_URL,
    config.NEO4J_USER && config.NEO4J_PASSWORD ? { user: config.NEO4J_USER, password: config.NEO4J_PASSWORD } : undefined,
  );
  const service = await createSubgraphService<CoherenceContext>({
    logger,
    databaseUrl: config.COHERENCE_DATABASE_URL,
    typeDefs: coherenceTypeDefs,
    resolvers: coherenceResolvers,
    context: (base) => ({ ...base, windowIso, driver, maxPageSize: config.SIGNALS_MAX_PAGE_SIZE }),
    readinessChecks: [{ name: 'neo4j', check: async () => void (await driver.verifyConnectivity()) }],
  });
  return {
    ...service,
    async close() {
      await service.close();
      await driver.close();
    },
  };
}
