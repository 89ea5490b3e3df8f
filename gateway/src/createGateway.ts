import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { Supergraph } from '@apollo/federation-internals';
import { childTraceparent, formatTraceparent, injectTraceContext, type TraceContext } from '@coherence/contracts';
import { createServiceApp, maskUnexpectedErrors, type Logger } from '@coherence/platform';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { readFile } from 'node:fs/promises';
import type { GatewayConfig } from './config';
import { gatewayErrorCodes, graphqlErrorBody } from './errors';
import { createPersistedOperations } from './persisted/createPersistedOperations';
import { resolvePersistedRequest } from './persisted/resolvePersistedRequest';
import type { SubgraphName } from './supergraph/subgraphs';

export interface GatewayContext {
  log: FastifyBaseLogger;
  trace: TraceContext;
  operationId: string;
}

/** Carries the request's trace to every subgraph call as a child span. */
class TracingDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (!('trace' in context) || !request.http) return;
    const headers = injectTraceContext({ ...context.trace, traceparent: childTraceparent(context.trace.traceparent) });
    for (const [name, value] of Object.entries(headers)) request.http.headers.set(name, value);
  }
}

/**
 * The gateway: persisted operations only, executed by `@apollo/gateway` over
 * the checked-in supergraph. Free text, unknown ids and malformed requests
 * are refused before anything reaches a subgraph.
 */
export async function createGateway(config: GatewayConfig, logger: Logger) {
  const supergraphSdl = await readFile(config.GATEWAY_SUPERGRAPH_PATH, 'utf8');
  const apiSchema = Supergraph.build(supergraphSdl).apiSchema().toGraphQLJSSchema();
  const operations = createPersistedOperations(JSON.parse(await readFile(config.GATEWAY_MANIFEST_PATH, 'utf8')), apiSchema);
  logger.info({ operations: operations.size }, 'persisted operations loaded');

  const subgraphUrls: Record<SubgraphName, string> = {
    coherence: config.SUBGRAPH_COHERENCE_URL,
    ingest: config.SUBGRAPH_INGEST_URL,
    comms: config.SUBGRAPH_COMMS_URL,
  };
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name }) => new TracingDataSource({ url: subgraphUrls[name as SubgraphName] }),
  });
  const apollo = new ApolloServer<GatewayContext>({ gateway, formatError: maskUnexpectedErrors, introspection: false });
  await apollo.start();

  const { app, markDraining } = createServiceApp({
    logger,
    bodyLimitBytes: config.GATEWAY_BODY_LIMIT_BYTES,
    errorBody: graphqlErrorBody,
    readinessChecks: Object.entries(subgraphUrls).map(([name, url]) => ({
      name: `subgraph:${name}`,
      check: async () => {
        const response = await fetch(new URL('/readyz', url), { signal: AbortSignal.timeout(2_000) });
        if (!response.ok) throw new Error(`readyz answered ${response.status}`);
      },
    })),
  });

  async function handleGraphQL(request: FastifyRequest, reply: FastifyReply) {
    const method = request.method === 'GET' ? 'GET' : 'POST';
    const resolved = resolvePersistedRequest(method, method === 'GET' ? request.query : request.body, operations);
    if (!resolved.ok) {
      request.log.info({ code: resolved.code }, 'graphql request refused');
      return reply.code(gatewayErrorCodes[resolved.code]).send(graphqlErrorBody(resolved.code, resolved.message));
    }
    const { operation, variables } = resolved;
    const tenantId = typeof variables['tenantId'] === 'string' ? variables['tenantId'] : undefined;
    const log = request.log.child({
      operation_id: operation.id,
      operation_name: operation.name,
      ...(tenantId ? { tenant_id: tenantId } : {}),
    });
    // Apollo sees a plain POST of the manifest's text: the only text it ever runs.
    const headers = new HeaderMap([['content-type', 'application/json']]);
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: 'POST',
        headers,
        search: '',
        body: { query: operation.body, operationName: operation.name, variables },
      },
      context: async () => ({ log, trace: request.trace, operationId: operation.id }),
    });
    for (const [name, value] of response.headers) void reply.header(name, value);
    void reply.header('traceparent', formatTraceparent(request.trace.traceparent));
    reply.code(response.status ?? 200);
    if (response.body.kind === 'complete') return reply.send(response.body.string);
    let text = '';
    for await (const chunk of response.body.asyncIterator) text += chunk;
    return reply.send(text);
  }
  app.route({ method: ['GET', 'POST'], url: '/graphql', handler: handleGraphQL });

  return {
    app,
    async close() {
      markDraining();
      await app.close();
      await apollo.stop();
    },
  };
}
