import { createSubgraphService, type Logger } from '@coherence/platform';
import type { CommsConfig } from './config';
import { alertsResolvers, type CommsContext } from './modules/alerts/resolvers';
import { alertsTypeDefs } from './modules/alerts/schema.graphql';

/** The comms subgraph: open alerts per tenant (the command bus grows here). */
export function createCommsService(config: CommsConfig, logger: Logger) {
  return createSubgraphService<CommsContext>({
    logger,
    databaseUrl: config.COMMS_DATABASE_URL,
    typeDefs: alertsTypeDefs,
    resolvers: alertsResolvers,
    context: (base) => base,
  });
}
