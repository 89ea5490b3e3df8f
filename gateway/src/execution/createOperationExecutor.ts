import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { createInternalTokenSigner, type InternalCaller, type InternalTokenSigner } from '@coherence/auth';
import { INTERNAL_TOKEN_HEADER, REQUEST_ID_HEADER, TENANTS_TOUCHED_EXTENSION, type RequestTrace } from '@coherence/contracts';
import {
  isUnreachableError,
  maskUnexpectedErrors,
  SERVICE_UNAVAILABLE_MESSAGE,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
} from '@coherence/platform';
import { withTenantBaggage } from '@coherence/telemetry';
import { context as otelContext } from '@opentelemetry/api';
import type { FastifyBaseLogger } from 'fastify';
import { GraphQLError, type FormattedExecutionResult } from 'graphql';
import { JSON_CONTENT_TYPE, type ExecutedOperation } from '../gatewayResponse';
import type { AdmittedContext } from '../pipeline/GatewayStep';
import type { SubgraphName } from '../supergraph/subgraphs';
import { createInFlightFetches, sharedFetchKey, type InFlightFetches } from './shareInFlightFetches';
import { createSubgraphFetcher, type Fetcher } from './subgraphFetcher';

export interface GatewayContext {
  log: FastifyBaseLogger;
  trace: RequestTrace;
  operationId: string;
  /**
   * What every subgraph call's internal token vouches for: the verified
   * subject and scopes, the tenants the policy admitted, the gateway's region
   * (comms' operator fields), the replica region while `region-routing` is on
   * (the coherence subgraph's reads) and the request id.
   */
  caller: InternalCaller;
  /** Filled from the subgraphs' answers: the tenants whose rows they returned or changed. */
  tenantsTouched: Set<string>;
}

/**
 * Every header the gateway adds to a subgraph call, in one place: the
 * request id and the internal token, minted for this call's subgraph
 * (docs/adr/0011-signed-subgraph-calls.md). Subgraphs trust nothing else a
 * call says about who sent it. The trace (`traceparent`, and `baggage` with
 * `tenant.id`) is added by the HTTP instrumentation, as a child of Apollo's
 * `gateway.fetch` span (docs/adr/0020-traces.md).
 */
function subgraphHeaders(context: GatewayContext, subgraph: SubgraphName, signer: InternalTokenSigner): Record<string, string> {
  return {
    [REQUEST_ID_HEADER]: context.trace.requestId,
    [INTERNAL_TOKEN_HEADER]: signer.mint(subgraph, context.caller),
  };
}

type SubgraphAnswer = Parameters<NonNullable<RemoteGraphQLDataSource<GatewayContext>['didReceiveResponse']>>[0];
type SubgraphResponse = Awaited<ReturnType<RemoteGraphQLDataSource<GatewayContext>['process']>>;
type SubgraphFetchResponse = Parameters<RemoteGraphQLDataSource<GatewayContext>['didEncounterError']>[2];

/** What a subgraph answers while it, or what it depends on, is starting or going away. */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504]);

/** False for Apollo's own calls (e.g. its health checks): they carry no request context. */
const forRequest = (context: object): context is GatewayContext => 'trace' in context;

/** A call made for a client's query (not a mutation's, whose reads must follow its own write): one that may be shared. */
const isQueryCall = (options: GraphQLDataSourceProcessOptions<GatewayContext>): boolean =>
  'incomingRequestContext' in options && options.incomingRequestContext.operation?.operation === 'query';

/** The tenants a subgraph's answer reports touching, added to the request's. */
function recordTenantsTouched(response: SubgraphResponse, context: GatewayContext): void {
  const touched: unknown = response.extensions?.[TENANTS_TOUCHED_EXTENSION];
  if (Array.isArray(touched)) for (const tenantId of touched) if (typeof tenantId === 'string') context.tenantsTouched.add(tenantId);
}

/**
 * Sends the gateway's headers with every subgraph call, collects the tenants
 * each answer reports touching, and lets identical query calls in flight at
 * once share one call (docs/adr/0033-subgraph-fetch.md).
 */
class GatewayDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  readonly subgraph: SubgraphName;
  readonly signer: InternalTokenSigner;
  readonly inFlight: InFlightFetches<SubgraphResponse> | undefined;
  constructor(url: string, subgraph: SubgraphName, signer: InternalTokenSigner, fetcher: Fetcher, shareCalls: boolean) {
    super({ url, fetcher });
    this.subgraph = subgraph;
    this.signer = signer;
    this.inFlight = shareCalls ? createInFlightFetches<SubgraphResponse>() : undefined;
  }
  override async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<SubgraphResponse> {
    const { context } = options;
    if (!this.inFlight || !forRequest(context) || !isQueryCall(options)) return super.process(options);
    const key = sharedFetchKey(this.subgraph, options.request, context.caller);
    // Without `http` (Apollo's fetch response, which nothing after this reads): the rest is plain data each caller gets a copy of.
    const { answer, joined } = await this.inFlight.share(key, async () => {
      const { http: _response, ...answer } = await super.process(options);
      return answer;
    });
    // The call that ran recorded its tenants through didReceiveResponse; a joined one records them here.
    if (joined) recordTenantsTouched(answer, context);
    return answer;
  }
  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<void> {
    if (!forRequest(context) || !request.http) return;
    for (const [name, value] of Object.entries(subgraphHeaders(context, this.subgraph, this.signer))) request.http.headers.set(name, value);
  }
  /**
   * A subgraph that cannot be reached (killed, restarting) or answers 502–504
   * is SERVICE_UNAVAILABLE: the same request succeeds once it is back. Any
   * other failure of the call is the gateway's own (INTERNAL once masked), and
   * never carries Apollo's `extensions.response` (the subgraph's URL and body)
   * out to the client.
   */
  override didEncounterError(error: Error, _request: unknown, response?: SubgraphFetchResponse): never {
    if (isUnreachableError(error) || (response !== undefined && UNAVAILABLE_STATUSES.has(response.status)))
      throw new GraphQLError(SERVICE_UNAVAILABLE_MESSAGE, {
        extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS },
        originalError: error,
      });
    throw new Error(`the ${this.subgraph} subgraph call failed: ${error.message}`, { cause: error });
  }
  override didReceiveResponse({ response, context }: SubgraphAnswer) {
    if (forRequest(context)) recordTenantsTouched(response, context);
    return response;
  }
}

export interface OperationExecutorOptions {
  supergraphSdl: string;
  subgraphUrls: Record<SubgraphName, string>;
  /** The gateway's private JWK (GATEWAY_INTERNAL_SIGNING_KEY) its internal tokens are signed with. */
  signingKeyPath: string;
  /** The gateway's region (GATEWAY_REGION), in every internal token. */
  region: string;
  /** The replica region for the coherence subgraph now (region routing may be switched at any time). */
  regionHint: () => string | undefined;
  /** Whether identical query calls in flight at once share one (GATEWAY_SHARE_SUBGRAPH_CALLS). */
  shareCalls: boolean;
  /** How long a subgraph may keep a call waiting (GATEWAY_SUBGRAPH_TIMEOUT_MS). */
  subgraphTimeoutMs: number;
}

/**
 * Apollo over the subgraphs: runs an admitted request's persisted operation
 * and hands back the result object (the cache decides on it; the body is
 * written once, afterwards).
 */
export async function createOperationExecutor(options: OperationExecutorOptions) {
  const signer = await createInternalTokenSigner(options.signingKeyPath);
  const subgraphFetcher = createSubgraphFetcher({ timeoutMs: options.subgraphTimeoutMs });
  const gateway = new ApolloGateway({
    supergraphSdl: options.supergraphSdl,
    buildService: ({ name }) =>
      new GatewayDataSource(
        options.subgraphUrls[name as SubgraphName],
        name as SubgraphName,
        signer,
        subgraphFetcher.fetcher,
        options.shareCalls,
      ),
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: maskUnexpectedErrors,
    introspection: false,
    // Apollo's default depends on NODE_ENV; internals never reach clients, whatever the environment.
    includeStacktraceInErrorResponses: false,
    // The process's onShutdown owns SIGTERM and SIGINT (see mountSubgraph); `stop` below is called by the gateway's close.
    stopOnTerminationSignals: false,
  });
  await apollo.start();

  return {
    /** Runs the operation; sets the request's `tenantsTouched` to what the subgraphs report, as they answer. */
    async execute(context: AdmittedContext, trace: RequestTrace): Promise<ExecutedOperation> {
      const { operation, variables, principal, tenantIds, log } = context;
      const replicaRegion = options.regionHint();
      const tenantsTouched = (context.tenantsTouched = new Set<string>());
      // Apollo runs the manifest's text: for persisted ids, the only text it ever runs.
      // Its spans (plan, each subgraph fetch) and calls carry the request's tenant as baggage.
      const response = await otelContext.with(withTenantBaggage(context.tenant.tenantId), () =>
        apollo.executeOperation(
          { query: operation.body, operationName: operation.name, variables },
          {
            contextValue: {
              log,
              trace,
              operationId: operation.id,
              caller: {
                subject: principal.subject,
                scopes: principal.scopes,
                tenantIds,
                region: options.region,
                ...(replicaRegion === undefined ? {} : { replicaRegion }),
                requestId: context.correlationId,
              },
              tenantsTouched,
            },
          },
        ),
      );
      // Incremental delivery needs a multipart `accept`, which this call never sends.
      if (response.body.kind !== 'single') throw new Error('an incremental result was not asked for');
      const headers: [string, string][] = [...response.http.headers];
      if (!response.http.headers.has('content-type')) headers.push(['content-type', JSON_CONTENT_TYPE]);
      const result = response.body.singleResult;
      if (!isUnavailableOnly(result)) return { status: response.http.status ?? 200, headers, result };
      log.warn({ errors: result.errors?.length }, 'a subgraph is unavailable: answered 503');
      headers.push(['retry-after', String(UNAVAILABLE_RETRY_AFTER_SECONDS)]);
      return { status: 503, headers, result };
    },
    stop: async () => {
      await apollo.stop();
      await subgraphFetcher.close();
    },
  };
}

/**
 * True when nothing was answered because a subgraph (or its database) could
 * not be reached: every error is SERVICE_UNAVAILABLE and no root field has a
 * value. The client then gets a 503 with `Retry-After`, as for the gateway's
 * own database, rather than a 200 it would take for an answer. Partial data
 * stays a 200 with its errors, as GraphQL has it.
 */
function isUnavailableOnly(result: FormattedExecutionResult): boolean {
  const errors = result.errors ?? [];
  if (errors.length === 0 || !errors.every((error) => error.extensions?.['code'] === 'SERVICE_UNAVAILABLE')) return false;
  return result.data == null || Object.values(result.data).every((value) => value === null);
}
