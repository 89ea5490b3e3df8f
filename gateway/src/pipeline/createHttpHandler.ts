import { inSpan, traceHeadersOf } from '@coherence/telemetry';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { performance } from 'node:perf_hooks';
import { gatewayErrorCodes, graphqlErrorBody } from '../errors';
import { toGatewayResponse, type ExecutedOperation, type GatewayResponse } from '../gatewayResponse';
import { assertReached, runRequestSteps, type AdmittedContext, type GatewayStep, type Refusal, type RequestContext } from './GatewayStep';

export interface HttpHandlerOptions {
  /** In order; the first refusal answers the request. */
  steps: readonly GatewayStep[];
  /** Runs an admitted request's operation (Apollo, over the subgraphs). */
  execute: (context: AdmittedContext, request: FastifyRequest) => Promise<ExecutedOperation>;
}

/** A refusal over HTTP: its registry status and a GraphQL error body, with the headers RFC 6750 and RFC 9110 ask for. */
function sendRefusal(reply: FastifyReply, context: RequestContext, refused: Refusal) {
  context.log.info({ code: refused.code, ...refused.extensions }, 'graphql request refused');
  if (refused.code === 'UNAUTHENTICATED') void reply.header('www-authenticate', 'Bearer error="invalid_token"');
  if (refused.code === 'RATE_LIMITED') void reply.header('retry-after', String(refused.extensions['retryAfterSeconds']));
  return reply.code(gatewayErrorCodes[refused.code]).send(graphqlErrorBody(refused.code, refused.message, refused.extensions));
}

/**
 * The `/graphql` route: the request runs the gateway's steps, then execution
 * (through the step that answers in its place, if any); every step's `onEnd`
 * runs before the response is written.
 */
export function createHttpHandler(options: HttpHandlerOptions) {
  const answering = options.steps.filter((step) => step.onExecute);
  // Nesting several would need one response type for all of them; one (the cache) is all the gateway has.
  if (answering.length > 1) throw new Error(`only one step may answer in place of execution: ${answering.map((s) => s.name).join(', ')}`);
  const answer = answering[0]?.onExecute;

  /** The steps, then execution (or the step that answers in its place): a refusal, or the response to write. */
  async function run(context: RequestContext, request: FastifyRequest): Promise<{ refused: Refusal } | { response: GatewayResponse }> {
    const refused = await runRequestSteps(options.steps, context);
    if (refused) return { refused };
    assertReached(context, 'execution', 'principal', 'operation', 'variables', 'tenantIds', 'tenant');
    const execute = () => options.execute(context, request);
    return {
      response: answer ? await inSpan('gateway response-cache', {}, () => answer(context, execute)) : toGatewayResponse(await execute()),
    };
  }

  return async function handleGraphQL(request: FastifyRequest, reply: FastifyReply) {
    const method = request.method === 'GET' ? 'GET' : 'POST';
    const context: RequestContext = {
      correlationId: request.trace.requestId,
      ...(request.trace.clientRequestId === undefined ? {} : { clientRequestId: request.trace.clientRequestId }),
      sourceIp: request.ip,
      userAgent: request.headers['user-agent'] ?? null,
      credentials: { headers: request.headers, url: request.url },
      method,
      payload: method === 'GET' ? request.query : request.body,
      receivedAtMs: performance.now(),
      log: request.log,
    };
    let outcome: { refused: Refusal } | { response: GatewayResponse };
    try {
      outcome = await run(context, request);
    } finally {
      for (const step of options.steps) step.onEnd?.(context);
    }
    // The caller can continue (or look up) the trace its request was part of; a refused one's is kept
    // even when its trace was not sampled (docs/adr/0020-traces.md).
    const { traceparent } = traceHeadersOf();
    if (traceparent !== undefined) void reply.header('traceparent', traceparent);
    if ('refused' in outcome) return sendRefusal(reply, context, outcome.refused);
    const { response } = outcome;
    for (const [name, value] of response.headers) void reply.header(name, value);
    reply.code(response.status);
    return reply.send(response.body);
  };
}
