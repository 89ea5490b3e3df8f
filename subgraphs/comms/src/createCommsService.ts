import { createPgPool, createServiceApp, createSubgraphService, type Logger, type PgPool, type SubgraphContext } from '@coherence/platform';
import { concatAST } from 'graphql';
import type { CommsConfig } from './config';
import { registerTwilioInbound } from './inbound/registerTwilioInbound';
import { alertsResolvers } from './modules/alerts/resolvers';
import { alertsTypeDefs } from './modules/alerts/schema.graphql';
import { reportTenantsTouched } from './modules/operator/reportTenantsTouched';
import { operatorResolvers, type OperatorContext } from './modules/operator/resolvers';
import { operatorTypeDefs } from './modules/operator/schema.graphql';
import { createOperatorStorage } from './modules/operator/storage';
import { createTenantAdminStore } from './modules/tenantAdmin/createTenantAdminStore';
import { tenantAdminResolvers, type TenantAdminContext } from './modules/tenantAdmin/resolvers';
import { tenantAdminTypeDefs } from './modules/tenantAdmin/schema.graphql';
import { createSsrfGuard } from './delivery/createSsrfGuard';

/** The comms subgraph's whole SDL: what it serves and what the supergraph is composed from. */
export const commsTypeDefs = concatAST([alertsTypeDefs, operatorTypeDefs, tenantAdminTypeDefs]);

export type CommsContext = SubgraphContext & { pool: PgPool } & OperatorContext & TenantAdminContext;

/**
 * The comms process: the subgraph (open alerts on the score, the operator
 * API over the command bus, the tenant-admin API) and, on a listener of its own, the inbound
 * provider webhooks. They are two Fastify apps because the subgraph trusts
 * that only the gateway reaches it (no authentication of its own), while the
 * webhooks must be reachable from the internet: exposing one port must not
 * expose the other. A third, the admin listener, serves `/readyz` and
 * `/metrics` for both. (The workers that run commands are their own process:
 * worker/main.ts.)
 */
export async function createCommsService(config: CommsConfig, logger: Logger) {
  // The tenant-admin API writes as comms_admin, a pool of its own; its changes are few (docs/adr/0031).
  const adminPool = config.COMMS_ADMIN_DATABASE_URL ? createPgPool(config.COMMS_ADMIN_DATABASE_URL, { max: 2 }) : undefined;
  const tenantAdmin = adminPool && createTenantAdminStore({ pool: adminPool, guard: createSsrfGuard({ allow: config.COMMS_SSRF_ALLOW }) });
  const service = await createSubgraphService<CommsContext>({
    name: 'comms',
    config,
    logger,
    databaseUrl: config.COMMS_DATABASE_URL,
    typeDefs: commsTypeDefs,
    resolvers: {
      ...alertsResolvers,
      ...operatorResolvers,
      ...tenantAdminResolvers,
      Query: { ...operatorResolvers.Query, ...tenantAdminResolvers.Query },
      Mutation: { ...operatorResolvers.Mutation, ...tenantAdminResolvers.Mutation },
    },
    // Operators see the tenants residing in the region of the gateway that signed the call only.
    context: (base) => ({
      ...base,
      operator: createOperatorStorage(base.pool, base.caller.region),
      actor: `operator:${base.caller.subject}`,
      tenantAdmin,
      adminActor: `admin:${base.caller.subject}`,
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
      await adminPool?.end();
    },
  };
}
