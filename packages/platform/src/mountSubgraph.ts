import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import type { InternalCaller, InternalVerifyResult } from '@coherence/auth';
import { INTERNAL_TOKEN_HEADER, SUBGRAPH_MAX_BATCH } from '@coherence/contracts';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DocumentNode, GraphQLFormattedError } from 'graphql';
import { isUnreachableError } from './errorCauses';
import { httpErrorBody, SERVICE_UNAVAILABLE_MESSAGE, UNAVAILABLE_RETRY_AFTER_SECONDS } from './httpErrors';
import { guardSubgraphCall } from './guardSubgraphCall';

export interface SubgraphContext {
  log: FastifyBaseLogger;
  requestId: string;
  /** What the gateway's internal token vouches for: subject, scopes, tenants, region. */
  caller: InternalCaller;
}

export interface MountSubgraphOptions<TContext extends SubgraphContext> {
  typeDefs: DocumentNode;
  resolvers: GraphQLResolverMap<TContext>;
  /** Verifies the gateway's internal token of a call (before its body is read). */
  verifyCaller: (token: string | undefined) => Promise<InternalVerifyResult>;
  /** Most entity representations one `_entities` call may ask for. */
  maxRepresentations: number;
  context: (request: FastifyRequest, caller: InternalCaller) => Promise<TContext>;
  plugins?: ApolloServerPlugin<TContext>[];
}

/**
 * Errors that carry a code of ours go out as they are; anything else is an
 * unexpected failure whose message may hold internals, so it is masked:
 * SERVICE_UNAVAILABLE when a dependency could not be reached (the same
 * request succeeds once it is back, e.g. after a Postgres restart:
 * docs/runbooks/drills/postgres-primary-restart.md), else INTERNAL.
 */
export function maskUnexpectedErrors(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const code = formatted.extensions?.['code'];
  if (code !== undefined && code !== 'INTERNAL_SERVER_ERROR') return formatted;
  const path = formatted.path ? { path: formatted.path } : {};
  if (isUnreachableError(unwrapResolverError(error)))
    return {
      message: SERVICE_UNAVAILABLE_MESSAGE,
      extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS },
      ...path,
    };
  return { message: 'internal error', extensions: { code: 'INTERNAL' }, ...path };
}

/** Why a subgraph refuses a batched call's shape (docs/adr/0037-batched-subgraph-calls.md), before any operation runs. */
const BATCH_INVALID = 'INTERNAL_BATCH_INVALID';

/**
 * Serves a federated subgraph at `/graphql` on an existing Fastify app, to
 * the gateway only: a call without a valid internal token is a 401 before
 * its body is read, and one that names a tenant the token does not carry is
 * refused before any resolver runs (guardSubgraphCall).
 *
 * A batched call (docs/adr/0037-batched-subgraph-calls.md) is a JSON array of
 * operations whose internal-token header holds one token per operation,
 * comma-separated, in order: every token is verified before the body is
 * read, and each operation runs as its own request with its own token's
 * caller, exactly as if it had come alone. Its answer is a JSON array of
 * `{"status":…,"body":…}`, each what that operation alone would have been
 * answered.
 */
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
    plugins: [
      fastifyApolloDrainPlugin(app),
      ApolloServerPluginInlineTraceDisabled(),
      guardSubgraphCall<TContext>(options.maxRepresentations),
      ...(options.plugins ?? []),
    ],
    formatError: maskUnexpectedErrors,
    // Apollo's default depends on NODE_ENV; internals never leave the process, whatever the environment.
    includeStacktraceInErrorResponses: false,
    // The gateway composes from the committed SDL; nobody needs a subgraph's schema from the wire.
    introspection: false,
    // The process's onShutdown owns SIGTERM and SIGINT. Apollo's own handler (installed unless NODE_ENV=test) stops
    // the server, then sends the signal again, which ended the process mid-drain (exit by signal, queued audit rows
    // unwritten). Closing the app, onShutdown's first step, drains the requests Apollo serves.
    stopOnTerminationSignals: false,
  });
  await apollo.start();
  const callers = new WeakMap<FastifyRequest, InternalCaller[]>();
  const refuse = (reply: FastifyReply, status: number, code: string, message: string) =>
    reply
      .code(status)
      .type('application/json')
      .send(JSON.stringify(httpErrorBody(code, message)));
  const single = fastifyApolloHandler(apollo, { context: (request) => options.context(request, callers.get(request)![0]!) });
  // Apollo's handler replies with JSON text; so do the refusals and the batch's answer below.
  app.route<{ Reply: string }>({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    onRequest: async (request, reply) => {
      const header = request.headers[INTERNAL_TOKEN_HEADER];
      const tokens = typeof header === 'string' ? header.split(',').map((token) => token.trim()) : [undefined];
      if (tokens.length > SUBGRAPH_MAX_BATCH)
        return refuse(reply, 400, BATCH_INVALID, `a batched call carries at most ${SUBGRAPH_MAX_BATCH} operations`);
      // One at a time, to the first that fails: a forged batch costs one signature check, not 32.
      const verified: InternalCaller[] = [];
      for (const token of tokens) {
        const result = await options.verifyCaller(token);
        if (!result.ok) {
          request.log.warn({ code: result.code, reason: result.reason, tokens: tokens.length }, 'subgraph call refused');
          return refuse(reply, 401, result.code, result.reason);
        }
        verified.push(result.caller);
      }
      callers.set(request, verified);
    },
    // onRequest has set the callers of every request that gets here: one per token.
    handler: async (request, reply) => {
      const operations: unknown = request.body;
      const requestCallers = callers.get(request)!;
      if (!Array.isArray(operations)) {
        if (requestCallers.length === 1) return single.call(app, request, reply);
        return refuse(reply, 400, BATCH_INVALID, `${requestCallers.length} tokens came with one operation`);
      }
      if (operations.length !== requestCallers.length)
        return refuse(reply, 400, BATCH_INVALID, `${requestCallers.length} tokens came with ${operations.length} operations`);
      const headers = new HeaderMap();
      for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string') headers.set(name, value);
      const answers = await Promise.all(
        operations.map(async (operation: unknown, index) => {
          const answer = await apollo.executeHTTPGraphQLRequest({
            httpGraphQLRequest: { method: 'POST', headers, search: '', body: operation },
            context: () => options.context(request, requestCallers[index]!),
          });
          // Incremental delivery needs a multipart `accept`, which the gateway never sends.
          if (answer.body.kind !== 'complete') throw new Error('an incremental result was not asked for');
          return `{"status":${answer.status ?? 200},"body":${answer.body.string}}`;
        }),
      );
      return reply.type('application/json').send(`[${answers.join(',')}]`);
    },
  });
  return apollo;
}
