import { SUBJECT_HEADER } from '@coherence/contracts';
import { createSubgraphService, type Logger, type PgPool, type SubgraphContext } from '@coherence/platform';
import { concatAST } from 'graphql';
import type { CommsConfig } from './config';
import { registerTwilioInbound } from './inbound/registerTwilioInbound';
import { alertsResolvers } from './modules/alerts/resolvers';
import { alertsTypeDefs } from './modules/alerts/schema.graphql';
import { operatorResolvers, type OperatorContext } from './modules/operator/resolvers';
import { operatorTypeDefs } from './modules/operator/schema.graphql';
import { createOperatorStorage } from './modules/operator/storage';

/** The comms subgraph's whole SDL: what it serves and what the supergraph is composed from. */
export const commsTypeDefs = concatAST([alertsTypeDefs, operatorTypeDefs]);

export type CommsContext = SubgraphContext & { pool: PgPool } & OperatorContext;

/**
 * The comms subgraph process: open alerts on the score, the operator API
 * over the command bus, and the inbound provider webhooks. (The workers that
 * run commands are their own process: worker/main.ts.)
 */
export async function createCommsService(config: CommsConfig, logger: Logger) {
  const service = await createSubgraphService<CommsContext>({
    logger,
    databaseUrl: config.COMMS_DATABASE_URL,
    typeDefs: commsTypeDefs,
    resolvers: { ...alertsResolvers, ...operatorResolvers },
    context: (base, request) => {
      const subject = request.headers[SUBJECT_HEADER];
      return {
        ...base,
        operator: createOperatorStorage(base.pool),
        actor: typeof subject === 'string' && subject !== '' ? `operator:${subject}` : 'operator',
      };
    },
  });
  await registerTwilioInbound(service.app, {
    pool: service.pool,
    authToken: config.COMMS_TWILIO_AUTH_TOKEN,
    publicBaseUrl: config.COMMS_PUBLIC_URL,
  });
  return service;
}
