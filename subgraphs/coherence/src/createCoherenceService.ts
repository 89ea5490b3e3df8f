import { createSubgraphService, type Logger, type PgPool } from '@coherence/platform';
import type { CoherenceConfig } from './config';
import { coherenceTypeDefs } from './coherenceTypeDefs';
import { createNeo4jDriver } from './graph/signalGraph';
import { createReadRouting } from './modules/coherence/createReadRouting';
import { coherenceResolvers, type CoherenceContext } from './modules/coherence/resolvers';

/**
 * The coherence subgraph: `tenantCoherence` over the Postgres read model
 * (from the replica of the gateway's region while its token names one,
 * else the primary), `signals` from the graph.
 */
export async function createCoherenceService(config: CoherenceConfig, logger: Logger) {
  const windowIso = `PT${config.COHERENCE_WINDOW_HOURS}H`;
  const driver = createNeo4jDriver(
    config.NEO4J_URL,
    config.NEO4J_USER && config.NEO4J_PASSWORD ? { user: config.NEO4J_USER, password: config.NEO4J_PASSWORD } : undefined,
  );
  const service = await createSubgraphService<CoherenceContext>({
    name: 'coherence',
    config,
    logger,
    databaseUrl: config.COHERENCE_DATABASE_URL,
    typeDefs: coherenceTypeDefs,
    resolvers: coherenceResolvers,
    context: (base) => {
      // readRouting is made below, once the service's registry exists; requests come only after that.
      const readModel = <T>(read: (pool: PgPool) => Promise<T>) => readRouting.read(base.caller.replicaRegion, base.pool, read);
      return { ...base, readModel, windowIso, driver, maxPageSize: config.SIGNALS_MAX_PAGE_SIZE };
    },
    // No Neo4j check: `tenantCoherence` reads Postgres only, and every instance shares the one graph, so while Neo4j is
    // down a readiness that named it would take every instance out of service and fail the score reads too
    // (docs/runbooks/drills/neo4j-down.md); `signals` answers its error meanwhile.
  });
  const readRouting = createReadRouting({
    replicaUrls: config.COHERENCE_READ_REPLICAS,
    maxLagMs: config.COHERENCE_REPLICA_MAX_LAG_MS,
    logger,
    metrics: service.admin.metrics,
  });
  return {
    ...service,
    /** `/healthz`, `/readyz`, `/metrics` (COHERENCE_ADMIN_PORT). */
    admin: service.admin.app,
    async close() {
      await service.close();
      await readRouting.close();
      await driver.close();
    },
  };
}
