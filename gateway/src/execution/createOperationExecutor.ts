import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import {
  childTraceparent,
  GATEWAY_REGION_HEADER,
  injectTraceContext,
  REGION_HINT_HEADER,
  SUBJECT_HEADER,
  TENANTS_TOUCHED_EXTENSION,
  type TraceContext,
} from '@coherence/contracts';
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
  /** The gateway's region, on every call: comms answers operator fields for the tenants residing there only. */
  region: string;
  /** The gateway's region while `region-routing` is on: the coherence subgraph then reads that region's replica. */
  regionHint?: string | undefined;
  /** Filled from the subgraphs' answers: the tenants whose rows they returned or changed. */
  tenantsTouched: Set<string>;
}

/**
 * Every header the gateway adds to a subgraph call, in one place: the
 * request's trace as a child span and what the gateway vouches for (the
 * subgraphs are reachable from the gateway alone and trust these).
 */
function subgraphHeaders(context: GatewayContext, sendsRegionHint: boolean): Record<string, string> {
  return {
    ...injectTraceContext({ ...context.trace, traceparent: childTraceparent(context.trace.traceparent) }),
    [SUBJECT_HEADER]: context.subject,
    [GATEWAY_REGION_HEADER]: context.region,
    ...(sendsRegionHint && context.regionHint ? { [REGION_HINT_HEADER]: context.regionHint } : {}),
  };
}

type SubgraphAnswer = Parameters<NonNullable<RemoteGraphQLDataSource<GatewayContext>['didReceiveResponse']>>[0];

/** False for Apollo's own calls (e.g. its health checks): they carry no request context. */
const forRequest = (context: object): context is GatewayContext => 'trace' in context;

/** Sends the gateway's headers with every subgraph call and collects the tenants each answer reports touching. */
class GatewayDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (!forRequest(context) || !request.http) return;
    for (const [name, value] of Object.entries(subgraphHeaders(context, this.sendsRegionHint))) request.http.headers.set(name, value);
  }
  override didReceiveResponse({ response, context }: SubgraphAnswer) {
    const touched: unknown = response.extensions?.[TENANTS_TOUCHED_EXTENSION];
    if (forRequest(context) && Array.isArray(touched))
      for (const tenantId of touched) if (typeof tenantId === 'string') context.tenantsTouched.add(tenantId);
    return response;
  }
  /** Only the coherence subgraph reads region-tagged replicas. */
  sendsRegionHint = false;
}

export interface OperationExecutorOptions {
  supergraphSdl: string;
  subgraphUrls: Record<SubgraphName, string>;
  /** The gateway's region (GATEWAY_REGION), sent on every subgraph call. */
  region: string;
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
      Object.assign(new GatewayDataSource({ url: options.subgraphUrls[name as SubgraphName] }), { sendsRegionHint: name === 'coherence' }),
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
    /** Runs the operation; sets the request's `tenantsTouched` to what the subgraphs report, as they answer. */
    async execute(context: AdmittedContext, trace: TraceContext): Promise<ExecutedOperation> {
      const { operation, variables, principal, log } = context;
      const tenantsTouched = (context.tenantsTouched = new Set<string>());
      // Apollo runs the manifest's text: for persisted ids, the only text it ever runs.
      const response = await apollo.executeOperation(
        { query: operation.body, operationName: operation.name, variables },
        {
          contextValue: {
            log,
            trace,
            operationId: operation.id,
            subject: principal.subject,
            region: options.region,
            regionHint: options.regionHint(),
            tenantsTouched,
          },
        },
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
