import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { childTraceparent, injectTraceContext, REGION_HINT_HEADER, SUBJECT_HEADER, type TraceContext } from '@coherence/contracts';
import { maskUnexpectedErrors } from '@coherence/platform';
import type { FastifyBaseLogger } from 'fastify';
import { JSON_CONTENT_TYPE, type ExecutedOperation } from '../gatewayResponse';
import type { AdmittedContext } from '../pipeline/GatewayStep';
import type { SubgraphName } from '../supergraph/subgraphs';

export interface GatewayContext {
  log: FastifyBaseLogger;
  trace: TraceContext;
  operationId: string;
  /** The verified token subject, forwarded so subgraphs can record who acted. */
  subject: string;
  /** The gateway's region while `region-routing` is on: the coherence subgraph then reads that region's replica. */
  regionHint?: string | undefined;
}

/** Carries the request's trace to every subgraph call as a child span. */
class TracingDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (!('trace' in context) || !request.http) return;
    const headers = injectTraceContext({ ...context.trace, traceparent: childTraceparent(context.trace.traceparent) });
    for (const [name, value] of Object.entries(headers)) request.http.headers.set(name, value);
    request.http.headers.set(SUBJECT_HEADER, context.subject);
    if (this.sendsRegionHint && context.regionHint) request.http.headers.set(REGION_HINT_HEADER, context.regionHint);
  }
  /** Only the coherence subgraph reads region-tagged replicas. */
  sendsRegionHint = false;
}

export interface OperationExecutorOptions {
  supergraphSdl: string;
  subgraphUrls: Record<SubgraphName, string>;
  /** The region hint for the coherence subgraph now (region routing may be switched at any time). */
  regionHint: () => string | undefined;
}

/**
 * Apollo over the subgraphs: runs an admitted request's persisted operation
 * and hands back the result object (the cache decides on it; the body is
 * written once, afterwards).
 */
export async function createOperationExecutor(options: OperationExecutorOptions) {
  const gateway = new ApolloGateway({
    supergraphSdl: options.supergraphSdl,
    buildService: ({ name }) =>
      Object.assign(new TracingDataSource({ url: options.subgraphUrls[name as SubgraphName] }), { sendsRegionHint: name === 'coherence' }),
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: maskUnexpectedErrors,
    introspection: false,
    // Apollo's default depends on NODE_ENV; internals never reach clients, whatever the environment.
    includeStacktraceInErrorResponses: false,
  });
  await apollo.start();

  return {
    async execute({ operation, variables, principal, log }: AdmittedContext, trace: TraceContext): Promise<ExecutedOperation> {
      // Apollo runs the manifest's text: for persisted ids, the only text it ever runs.
      const response = await apollo.executeOperation(
        { query: operation.body, operationName: operation.name, variables },
        { contextValue: { log, trace, operationId: operation.id, subject: principal.subject, regionHint: options.regionHint() } },
      );
      // Incremental delivery needs a multipart `accept`, which this call never sends.
      if (response.body.kind !== 'single') throw new Error('an incremental result was not asked for');
      const headers: [string, string][] = [...response.http.headers];
      if (!response.http.headers.has('content-type')) headers.push(['content-type', JSON_CONTENT_TYPE]);
      return { status: response.http.status ?? 200, headers, result: response.body.singleResult };
    },
    stop: () => apollo.stop(),
  };
}
