import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { DocumentNode, GraphQLFormattedError } from 'graphql';

export interface SubgraphContext {
  log: FastifyBaseLogger;
  requestId: string;
}

export interface MountSubgraphOptions<TContext extends SubgraphContext> {
  typeDefs: DocumentNode;
  resolvers: GraphQLResolverMap<TContext>;
  context: (request: FastifyRequest) => Promise<TContext>;
  plugins?: ApolloServerPlugin<TContext>[];
}

/**
 * Errors that carry a code of ours go out as they are; anything else is an
 * unexpected failure whose message may hold internals, so it is masked.
 */
export function maskUnexpectedErrors(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const code = formatted.extensions?.['code'];
  if (code === undefined || code === 'INTERNAL_SERVER_ERROR') {
    void error;
    return { message: 'internal error', extensions: { code: 'INTERNAL' }, ...(formatted.path ? { path: formatted.path } : {}) };
  }
  return formatted;
}

/** Serves a federated subgraph at `/graphql` on an existing Fastify app. */
export async function mountSubgraph<TContext extends SubgraphContext>(
  app: FastifyInstance,
  options: MountSubgraphOptions<TContext>,
): Promise<ApolloServer<TContext>> {
  const apollo = new ApolloServer<TContext>({
    schema: buildSubgraphSchema({
      typeDefs: options.typeDefs,
      // The resolver map type is not generic in its context; ours are checked against TContext above.
      resolvers: options.resolvers as GraphQLResolverMap<unknown>,
    }),
    // No Apollo Studio here, so no inline trace data in responses.
    plugins: [fastifyApolloDrainPlugin(app), ApolloServerPluginInlineTraceDisabled(), ...(options.plugins ?? [])],
    formatError: maskUnexpectedErrors,
    // Apollo's default depends on NODE_ENV; internals never leave the process, whatever the environment.
    includeStacktraceInErrorResponses: false,
    introspection: true,
  });
  await apollo.start();
  app.route({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    handler: fastifyApolloHandler(apollo, { context: (request) => options.context(request) }),
  });
  return apollo;
}
