import type { Principal } from '@coherence/auth';
import type { Logger } from '@coherence/platform';
import type { FastifyInstance } from 'fastify';
import { GraphQLError, parse, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import { assertReached, runRequestSteps, type GatewayStep, type Refusal, type RequestContext } from '../pipeline/GatewayStep';
import type { SubscriptionConfig } from './config';
import { createCoherenceEventHub } from './createCoherenceEventHub';

export interface CoherenceSubscriptionsOptions {
  logger: Logger;
  /** The gateway's registry: `subscription_fanout_latency_ms` and the open-subscription gauge go there. */
  metrics: Registry;
  /** The supergraph's API schema (it declares `Subscription.coherenceEvents`). */
  apiSchema: GraphQLSchema;
  /** Run on `connection_init`: authentication, which sets the connection's principal. */
  connectSteps: readonly GatewayStep[];
  /** Run per subscribe, with the connection's principal: the persisted operation (subscriptions only), tenant, policy, kill switch. */
  subscribeSteps: readonly GatewayStep[];
  config: SubscriptionConfig;
}

const WEBSOCKET_PATH = '/graphql';
/** graphql-ws's own close code for a refused `connection_init`; the refusal's code goes in the close reason. */
const FORBIDDEN_CLOSE_CODE = 4403;

/** A refused subscribe as graphql-ws sends it: one error carrying the registry code. */
const refusalErrors = ({ code, message, extensions }: Refusal) => [new GraphQLError(message, { extensions: { ...extensions, code } })];

/**
 * `coherenceEvents` over graphql-ws on the gateway's own HTTP server (path
 * `/graphql`, upgrade requests only), through the gateway's own steps: a
 * bearer token (sent as `connectionParams.authorization`) on connect, and
 * per subscription a persisted operation by id only
 * (`extensions.persistedQuery.sha256Hash` or `documentId`, empty `query`)
 * and a policy decision. Events come from the `CoherenceChanged` Redis
 * channel, coalesced per tenant.
 */
export function attachCoherenceSubscriptions(app: FastifyInstance, options: CoherenceSubscriptionsOptions) {
  const { logger, config } = options;
  const fanoutLatency = new Histogram({
    name: 'subscription_fanout_latency_ms',
    help: 'From the relay committing a score change to the gateway handing it to a subscriber, in ms.',
    buckets: [5, 10, 25, 50, 100, 150, 200, 300, 500, 1_000, 2_500, 5_000],
    registers: [options.metrics],
  });
  const hub = createCoherenceEventHub({
    redisUrl: config.GATEWAY_REDIS_URL,
    channel: config.COHERENCE_CHANGED_CHANNEL,
    coalesceMs: config.GATEWAY_SUBSCRIPTION_COALESCE_MS,
    logger,
    onDelivered: (latencyMs) => fanoutLatency.observe(latencyMs),
  });
  new Gauge({
    name: 'subscription_active',
    help: 'Open coherenceEvents subscriptions.',
    registers: [options.metrics],
    collect() {
      this.set(hub.subscriberCount());
    },
  });

  const principals = new WeakMap<object, Principal>();
  /** What each step sees of one graphql-ws message: the upgrade request's address, and the connection's credentials. */
  const contextOf = (
    request: IncomingMessage,
    params: Readonly<Record<string, unknown>> | undefined,
    payload?: unknown,
  ): RequestContext => {
    const authorization = params?.['authorization'] ?? params?.['Authorization'];
    return {
      correlationId: randomUUID(),
      sourceIp: request.socket.remoteAddress ?? '',
      userAgent: request.headers['user-agent'] ?? null,
      // The upgrade URL is not where a token is read from here: only connectionParams are.
      credentials: { headers: { authorization: typeof authorization === 'string' ? authorization : undefined }, url: WEBSOCKET_PATH },
      method: 'POST',
      payload,
      receivedAtMs: performance.now(),
      log: logger,
    };
  };
  const wss = new WebSocketServer({ noServer: true });
  const server = useServer<Record<string, unknown>, { request: IncomingMessage }>(
    {
      connectionInitWaitTimeout: config.GATEWAY_SUBSCRIPTION_INIT_TIMEOUT_MS,
      onConnect: async (ctx) => {
        const context = contextOf(ctx.extra.request, ctx.connectionParams);
        const refused = await runRequestSteps(options.connectSteps, context);
        if (refused) {
          logger.info({ code: refused.code, ...refused.extensions }, 'subscription connection refused');
          // graphql-ws closes with 4403 too once this returns false; closing first puts the code in the reason.
          ctx.extra.socket.close(FORBIDDEN_CLOSE_CODE, refused.code);
          return false;
        }
        assertReached(context, 'connection', 'principal');
        principals.set(ctx, context.principal);
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        // graphql-ws requires a `query` string: persisted-only clients send it empty.
        const context = contextOf(ctx.extra.request, ctx.connectionParams, { ...payload, query: payload.query || undefined });
        context.principal = principals.get(ctx);
        const refused = await runRequestSteps(options.subscribeSteps, context);
        if (refused) {
          context.log.info({ code: refused.code, ...refused.extensions }, 'subscription refused');
          return refusalErrors(refused);
        }
        assertReached(context, 'subscription', 'operation', 'variables', 'tenantIds');
        const { operation, variables } = context;
        const [tenantId] = context.tenantIds;
        if (tenantId === undefined) throw new Error('the persisted-operation step lets a subscription through only with one tenant');

        await hub.ensureSubscribed();
        const changes = hub.subscribe(tenantId);
        const args: ExecutionArgs = {
          schema: options.apiSchema,
          document: parse(operation.body),
          operationName: operation.name,
          variableValues: variables,
          // graphql-js maps each event through the selection with the event as root.
          rootValue: {
            coherenceEvents: () => ({
              [Symbol.asyncIterator]: () => ({
                next: async () => {
                  const next = await changes.next();
                  return next.done ? next : { done: false, value: { coherenceEvents: next.value.current } };
                },
                return: () => changes.return!(),
              }),
            }),
          },
        };
        return args;
      },
    },
    wss,
  );

  app.server.on('upgrade', (request, socket, head) => {
    if (new URL(request.url ?? '/', 'http://gateway').pathname !== WEBSOCKET_PATH) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });
  // Before the HTTP server closes: open sockets would otherwise keep it from finishing.
  app.addHook('preClose', async () => {
    await server.dispose();
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await hub.close();
  });
}
