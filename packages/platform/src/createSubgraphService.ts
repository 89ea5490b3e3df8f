import { createInternalTokenVerifier } from '@coherence/auth';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { createAdminApp, type AdminApp, type ReadinessCheck } from './createAdminApp';
import { createServiceApp } from './createServiceApp';
import { mountSubgraph, type MountSubgraphOptions, type SubgraphContext } from './mountSubgraph';
import { createPgPool, type PgPool } from './postgres';
import type { SubgraphConfig } from './subgraphConfig';

export interface SubgraphServiceOptions<TContext extends SubgraphContext> {
  /** The subgraph's name in the supergraph: the audience of the gateway's internal tokens it accepts. */
  name: string;
  config: SubgraphConfig;
  logger: Logger;
  /** The role it connects as must be one row-level security applies to. */
  databaseUrl: string;
  bodyLimitBytes?: number;
  typeDefs: MountSubgraphOptions<TContext>['typeDefs'];
  resolvers: MountSubgraphOptions<TContext>['resolvers'];
  /** Adds the service's own per-request context to the common one (the verified caller's region, subject…). */
  context: (base: SubgraphContext & { pool: PgPool }, request: FastifyRequest) => TContext;
  /** Apollo Server plugins, e.g. one that reports to the gateway in a response's `extensions`. */
  plugins?: MountSubgraphOptions<TContext>['plugins'];
  readinessChecks?: readonly ReadinessCheck[];
  /** Runs on close once in-flight requests have finished, before the pool closes: writes what requests queued (audit rows). */
  onDrained?: () => Promise<void>;
}

export interface SubgraphService {
  /** `/graphql` and `/healthz`. */
  app: FastifyInstance;
  /** The process's admin listener: `/readyz` (Postgres and `readinessChecks`), `/metrics`. */
  admin: AdminApp;
  pool: PgPool;
  /** Stop taking traffic, let in-flight requests finish, run `onDrained`, close the pool, then the admin listener. */
  close(): Promise<void>;
}

/** A subgraph process: Postgres pool, `/graphql` (for the gateway's signed calls only) and `/healthz`, and its admin listener. */
export async function createSubgraphService<TContext extends SubgraphContext>(
  options: SubgraphServiceOptions<TContext>,
): Promise<SubgraphService> {
  const { logger } = options;
  const pool = createPgPool(options.databaseUrl, { onIdleError: (err) => logger.warn({ err }, 'idle postgres client failed') });
  const admin = createAdminApp({
    logger,
    readinessChecks: [{ name: 'postgres', check: async () => void (await pool.query('SELECT 1')) }, ...(options.readinessChecks ?? [])],
  });
  const { app } = createServiceApp({
    logger,
    admin,
    ...(options.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: options.bodyLimitBytes }),
  });
  await mountSubgraph<TContext>(app, {
    typeDefs: options.typeDefs,
    resolvers: options.resolvers,
    verifyCaller: await createInternalTokenVerifier({ jwks: options.config.SUBGRAPH_INTERNAL_JWKS, audience: options.name }),
    maxRepresentations: options.config.SUBGRAPH_MAX_REPRESENTATIONS,
    // The request id the gateway signed for the call: a batched call's operations each have their own, other than the
    // batch's (docs/adr/0037-batched-subgraph-calls.md), and their log lines carry it.
    context: async (request, caller) =>
      options.context(
        {
          log: caller.requestId === request.trace.requestId ? request.log : request.log.child({ call_request_id: caller.requestId }),
          requestId: caller.requestId,
          caller,
          pool,
        },
        request,
      ),
    plugins: options.plugins,
  });
  return {
    app,
    admin,
    pool,
    async close() {
      admin.markDraining();
      await app.close();
      await options.onDrained?.();
      await pool.end();
      await admin.app.close();
    },
  };
}
