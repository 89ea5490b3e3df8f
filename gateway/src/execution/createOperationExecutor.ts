import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { createInternalTokenSigner, type InternalCaller, type InternalTokenSigner } from '@coherence/auth';
import {
  INTERNAL_TOKEN_HEADER,
  REQUEST_ID_HEADER,
  SUBGRAPH_MAX_BATCH,
  TENANTS_TOUCHED_EXTENSION,
  type RequestTrace,
} from '@coherence/contracts';
import {
  isUnreachableError,
  maskUnexpectedErrors,
  SERVICE_UNAVAILABLE_MESSAGE,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
} from '@coherence/platform';
import { withTenantBaggage } from '@coherence/telemetry';
import { context as otelContext, propagation } from '@opentelemetry/api';
import type { FastifyBaseLogger } from 'fastify';
import { GraphQLError, type FormattedExecutionResult } from 'graphql';
import { JSON_CONTENT_TYPE, type ExecutedOperation } from '../gatewayResponse';
import type { AdmittedContext } from '../pipeline/GatewayStep';
import type { SubgraphName } from '../supergraph/subgraphs';
import { createInFlightFetches, sharedFetchKey, type InFlightFetches } from './shareInFlightFetches';
import { createCallBatcher, type CallBatcher } from './batchSubgraphCalls';
import { createSubgraphFetcher, type SubgraphFetcher } from './subgraphFetcher';

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

type CallOptions = GraphQLDataSourceProcessOptions<GatewayContext>;

/** The answer of one operation of a batched call (mountSubgraph in packages/platform). */
interface BatchedAnswer {
  status: number;
  body: SubgraphResponse;
}

const isBatchedAnswer = (value: unknown): value is BatchedAnswer =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as BatchedAnswer).status === 'number' &&
  typeof (value as BatchedAnswer).body === 'object' &&
  (value as BatchedAnswer).body !== null;

/**
 * Most characters of internal tokens one batched call's header carries: Node's servers refuse a request whose
 * headers pass 16 KiB in all, and a token is about 640 characters (more with many tenants).
 */
const MAX_TOKEN_HEADER_CHARS = 12_000;

/** Longest a query call waits for one of the calls under way to its subgraph to return, before it goes anyway. */
const BATCH_MAX_WAIT_MS = 50;

/**
 * Sends the gateway's headers with every subgraph call, collects the tenants
 * each answer reports touching, lets identical query calls in flight at once
 * share one call (docs/adr/0033-subgraph-fetch.md), and under load sends
 * query calls together, each with its own token
 * (docs/adr/0037-batched-subgraph-calls.md).
 */
class GatewayDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  readonly subgraph: SubgraphName;
  readonly signer: InternalTokenSigner;
  readonly subgraphFetcher: SubgraphFetcher;
  readonly inFlight: InFlightFetches<SubgraphResponse> | undefined;
  readonly batcher: CallBatcher<CallOptions, SubgraphResponse> | undefined;
  constructor(url: string, subgraph: SubgraphName, signer: InternalTokenSigner, subgraphFetcher: SubgraphFetcher, calls: CallSettings) {
    super({ url, fetcher: subgraphFetcher.fetcher });
    this.subgraph = subgraph;
    this.signer = signer;
    this.subgraphFetcher = subgraphFetcher;
    this.inFlight = calls.shareCalls ? createInFlightFetches<SubgraphResponse>() : undefined;
    this.batcher =
      calls.callsInFlight > 0
        ? createCallBatcher({
            inFlight: calls.callsInFlight,
            maxBatch: SUBGRAPH_MAX_BATCH,
            maxWaitMs: BATCH_MAX_WAIT_MS,
            send: (batch) => this.processBatch(batch),
          })
        : undefined;
  }
  override async process(options: CallOptions): Promise<SubgraphResponse> {
    const { context } = options;
    if (!forRequest(context) || !isQueryCall(options)) return super.process(options);
    const send = () => (this.batcher ? this.batcher.call(options) : super.process(options));
    if (!this.inFlight) return send();
    const key = sharedFetchKey(this.subgraph, options.request, context.caller);
    // Without `http` (Apollo's fetch response, which nothing after this reads): the rest is plain data each caller gets a copy of.
    const { answer, joined } = await this.inFlight.share(key, async () => {
      const { http: _response, ...answer } = await send();
      return answer;
    });
    // The call that ran recorded its tenants (didReceiveResponse, processBatch); a joined one records them here.
    if (joined) recordTenantsTouched(answer, context);
    return answer;
  }
  /**
   * Query calls of one or more requests in one HTTP call: the body the array
   * of their operations, the internal-token header their tokens, each minted
   * for its own call as if it went alone. Each call is answered, or fails,
   * as it would have alone; a call that fails as a whole fails each of them.
   * Tokens that would not fit one header go in more HTTP calls, at once.
   */
  async processBatch(batch: CallOptions[]): Promise<PromiseSettledResult<SubgraphResponse>[]> {
    const tokens = batch.map(({ context }) => this.signer.mint(this.subgraph, (context as GatewayContext).caller));
    const parts: Promise<PromiseSettledResult<SubgraphResponse>[]>[] = [];
    for (let start = 0, end = 0; start < batch.length; start = end) {
      let chars = tokens[start]!.length;
      for (end = start + 1; end < batch.length && chars + 1 + tokens[end]!.length <= MAX_TOKEN_HEADER_CHARS; end += 1)
        chars += 1 + tokens[end]!.length;
      parts.push(this.postBatch(batch.slice(start, end), tokens.slice(start, end)));
    }
    return (await Promise.all(parts)).flat();
  }
  async postBatch(batch: CallOptions[], tokens: string[]): Promise<PromiseSettledResult<SubgraphResponse>[]> {
    const body = JSON.stringify(
      batch.map(({ request: { query, operationName, variables, extensions } }) => ({ query, operationName, variables, extensions })),
    );
    const failAll = (error: Error, status?: number) => {
      const reason = this.failure(error, status);
      return batch.map((): PromiseSettledResult<SubgraphResponse> => ({ status: 'rejected', reason }));
    };
    // The call goes in its first request's trace; the tenant baggage only when every call is that tenant's.
    const tenantsOf = ({ context }: CallOptions) => (context as GatewayContext).caller.tenantIds.join(',');
    const oneTenant = batch.every((call) => tenantsOf(call) === tenantsOf(batch[0]!));
    const callContext = oneTenant ? otelContext.active() : propagation.deleteBaggage(otelContext.active());
    let answers: unknown;
    try {
      const answer = await otelContext.with(callContext, () =>
        this.subgraphFetcher.postBatch(this.url!, { [INTERNAL_TOKEN_HEADER]: tokens.join(',') }, body),
      );
      if (answer.status !== 200) return failAll(new Error(`answered ${answer.status}: ${answer.body.slice(0, 200)}`), answer.status);
      answers = JSON.parse(answer.body);
    } catch (error) {
      return failAll(error as Error);
    }
    if (!Array.isArray(answers) || answers.length !== batch.length)
      return failAll(new Error(`answered other than ${batch.length} results`));
    return batch.map((options, index): PromiseSettledResult<SubgraphResponse> => {
      const answer: unknown = answers[index];
      if (!isBatchedAnswer(answer))
        return { status: 'rejected', reason: this.failure(new Error(`answered no result for call ${index}`), undefined) };
      if (answer.status < 200 || answer.status > 299)
        return { status: 'rejected', reason: this.failure(new Error(`answered ${answer.status}`), answer.status) };
      recordTenantsTouched(answer.body, options.context as GatewayContext);
      return { status: 'fulfilled', value: answer.body };
    });
  }
  override async willSendRequest({ request, context }: CallOptions): Promise<void> {
    if (!forRequest(context) || !request.http) return;
    for (const [name, value] of Object.entries(subgraphHeaders(context, this.subgraph, this.signer))) request.http.headers.set(name, value);
  }
  override didEncounterError(error: Error, _request: unknown, response?: SubgraphFetchResponse): never {
    throw this.failure(error, response?.status);
  }
  /**
   * A subgraph that cannot be reached (killed, restarting) or answers 502–504
   * is SERVICE_UNAVAILABLE: the same request succeeds once it is back. Any
   * other failure of the call is the gateway's own (INTERNAL once masked), and
   * never carries Apollo's `extensions.response` (the subgraph's URL and body)
   * out to the client.
   */
  failure(error: Error, status: number | undefined): Error {
    if (isUnreachableError(error) || (status !== undefined && UNAVAILABLE_STATUSES.has(status)))
      return new GraphQLError(SERVICE_UNAVAILABLE_MESSAGE, {
        extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS },
        originalError: error,
      });
    return new Error(`the ${this.subgraph} subgraph call failed: ${error.message}`, { cause: error });
  }
  override didReceiveResponse({ response, context }: SubgraphAnswer) {
    if (forRequest(context)) recordTenantsTouched(response, context);
    return response;
  }
}

/** How the gateway sends query calls (GATEWAY_SHARE_SUBGRAPH_CALLS, GATEWAY_SUBGRAPH_CALLS_IN_FLIGHT). */
interface CallSettings {
  /** Whether identical query calls in flight at once share one. */
  shareCalls: boolean;
  /** Query calls to one subgraph under way at once before further ones wait to go together; 0 never batches. */
  callsInFlight: number;
}

export interface OperationExecutorOptions extends CallSettings {
  supergraphSdl: string;
  subgraphUrls: Record<SubgraphName, string>;
  /** The gateway's private JWK (GATEWAY_INTERNAL_SIGNING_KEY) its internal tokens are signed with. */
  signingKeyPath: string;
  /** The gateway's region (GATEWAY_REGION), in every internal token. */
  region: string;
  /** The replica region for the coherence subgraph now (region routing may be switched at any time). */
  regionHint: () => string | undefined;
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
      new GatewayDataSource(options.subgraphUrls[name as SubgraphName], name as SubgraphName, signer, subgraphFetcher, options),
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
