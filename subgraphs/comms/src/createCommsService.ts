import { createServiceApp, createSubgraphService, type Logger, type PgPool, type SubgraphContext } from '@coherence/platform';
import { concatAST } from 'graphql';
import type { CommsConfig } from './config';
import { registerTwilioInbound } from './inbound/registerTwilioInbound';
import { alertsResolvers } from './modules/alerts/resolvers';
import { alertsTypeDefs } from './modules/alerts/schema.graphql';
import { reportTenantsTouched } from './modules/operator/reportTenantsTouched';
import { operatorResolvers, type OperatorContext } from './modules/operator/resolvers';
import { operatorTypeDefs } from './modules/operator/schema.graphql';
import { createOperatorStorage } from './modules/operator/storage';

/** The comms subgraph's whole SDL: what it serves and what the supergraph is composed from. */
export const commsTypeDefs = concatAST([alertsTypeDefs, operatorTypeDefs]);

export type CommsContext = SubgraphContext & { pool: PgPool } & OperatorContext;

/**
 * The comms process: the subgraph (open alerts on the score, the operator
 * API over the command bus) and, on a listener of its own, the inbound
 * provider webhooks. They are two Fastify apps because the subgraph trusts
 * that only the gateway reaches it (no authentication of its own), while the
 * webhooks must be reachable from the internet: exposing one port must not
 * expose the other. A third, the admin listener, serves `/readyz` and
 * `/metrics` for both. (The workers that run commands are their own process:
 * worker/main.ts.)
 */
export async function createCommsService(config: CommsConfig, logger: Logger) {
  const service = await createSubgraphService<CommsContext>({
    name: 'comms',
    config,
    logger,
    databaseUrl: config.COMMS_DATABASE_URL,
    typeDefs: commsTypeDefs,
    resolvers: { ...alertsResolvers, ...operatorResolvers },
    // Operators see the tenants residing in the region of the gateway that signed the call only.
    context: (base) => ({
      ...base,
      operator: createOperatorStorage(base.pool, base.caller.region),
      actor: `operator:${base.caller.subject}`,
    }),
    plugins: [reportTenantsTouched],
  });
  const inbound = createServiceApp({ logger, admin: service.admin });
  await registerTwilioInbound(inbound.app, {
    pool: service.pool,
    authToken: config.COMMS_TWILIO_AUTH_TOKEN,
    publicBaseUrl: config.COMMS_PUBLIC_URL,
  });
  return {
    /** `/graphql` for the gateway only (COMMS_PORT). */
    app: service.app,
    pool: service.pool,
    /** The provider webhooks, the only part meant for the internet (COMMS_INBOUND_PORT). */
    inbound: inbound.app,
    /** `/healthz`, `/readyz`, `/metrics` (COMMS_ADMIN_PORT). */
    admin: service.admin.app,
    /** Stop both service listeners (in-flight requests finish), then close the pool and the admin listener. */
    async close() {
      service.admin.markDraining();
      await inbound.app.close();
      await service.close();
    },
  };
}
