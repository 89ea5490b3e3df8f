import { UNAVAILABLE_RETRY_AFTER_SECONDS, type Logger } from '@coherence/platform';
import type { FastifyInstance } from 'fastify';
import { GraphQLError, parse, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { assertReached, refusal, runRequestSteps, type GatewayStep, type Refusal, type RequestContext } from '../pipeline/GatewayStep';
import type { OriginAllowList } from '../browser/originAllowList';
import type { SubscriptionConfig } from './config';
import { createCoherenceEventHub } from './createCoherenceEventHub';
import { createCountLimit } from './createCountLimit';
import { addressKey } from '@coherence/ratelimit';

export interface CoherenceSubscriptionsOptions {
  logger: Logger;
  /** The gateway's registry: `subscription_fanout_latency_seconds` and the open-subscription gauge go there. */
  metrics: Registry;
  /** The supergraph's API schema (it declares `Subscription.coherenceEvents`). */
  apiSchema: GraphQLSchema;
  /** Run on `connection_init`, and again before every subscribe (a token that stopped verifying closes the socket, 4401): authentication. */
  connectSteps: readonly GatewayStep[];
  /** Run per subscribe, after `connectSteps`: the persisted operation (subscriptions only), tenant, policy, kill switch, limiter. */
  subscribeSteps: readonly GatewayStep[];
  /** A browser's upgrade from an origin not on the list is refused (403) before anything else: no cross-site WebSocket hijacking. */
  origins: OriginAllowList;
  config: SubscriptionConfig;
}

const WEBSOCKET_PATH = '/graphql';
/** graphql-ws's own close code for a refused `connection_init`; the refusal's code goes in the close reason. */
const FORBIDDEN_CLOSE_CODE = 4403;
/** The token expired, or stopped verifying on a later subscribe: 4000 + the status of UNAUTHENTICATED. */
const UNAUTHENTICATED_CLOSE_CODE = 4401;
/** graphql-ws's code for a connection not initialised in time. */
const INIT_TIMEOUT_CLOSE_CODE = 4408;
/** Over the per-tenant connection cap, or from an address the refusal throttle holds back: 4000 + the status of RATE_LIMITED. */
const RATE_LIMITED_CLOSE_CODE = 4429;
/** setTimeout's longest delay (about 24.8 days); Node fires a longer one at once, so a later expiry is re-armed. */
const MAX_TIMER_MS = 2_147_483_647;

/** What the gateway holds for one open socket. */
interface Connection {
  /** The token's tenant once authenticated: its connection and its live subscriptions are counted against it. */
  tenantId: string | undefined;
  /** Ids of the socket's live subscriptions, and of those being admitted. */
  subscriptions: Set<string>;
  /** First the wait for authentication, then the token's expiry. */
  timer: NodeJS.Timeout;
}

/**
 * The last event of a subscription the gateway ends (its tenant was suspended):
 * graphql-js turns a root value that is an error into the field's error, so the
 * client gets `next` with this error, then `complete`.
 */
const endedBy = (code: string, message: string) => ({ coherenceEvents: new GraphQLError(message, { extensions: { code } }) });

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
 *
 * Nothing is read before authentication that an HTTP request could not
 * send: frames are capped at the app's body limit, sockets per client
 * address are counted before the upgrade, and a socket not authenticated
 * within `GATEWAY_WS_INIT_TIMEOUT_MS` is closed. Once authenticated, the
 * token's tenant has a cap on sockets and live subscriptions, every
 * subscribe re-verifies the token and is charged by the limiter, and the
 * socket is closed (4401) when the token expires.
 */
export function attachCoherenceSubscriptions(app: FastifyInstance, options: CoherenceSubscriptionsOptions) {
  const { logger, config } = options;
  const fanoutLatency = new Histogram({
    name: 'subscription_fanout_latency_seconds',
    help: 'From the relay committing a score change to the gateway handing it to a subscriber.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 1, 2.5, 5],
    registers: [options.metrics],
  });
  const hub = createCoherenceEventHub({
    redisUrl: config.GATEWAY_REDIS_URL,
    channel: config.COHERENCE_CHANGED_CHANNEL,
    coalesceMs: config.GATEWAY_SUBSCRIPTION_COALESCE_MS,
    logger,
    onDelivered: (latencyMs) => fanoutLatency.observe(latencyMs / 1_000),
  });
  new Gauge({
    name: 'subscription_active',
    help: 'Open coherenceEvents subscriptions.',
    registers: [options.metrics],
    collect() {
      this.set(hub.subscriberCount());
    },
  });

  const refusedOverLimit = new Counter({
    name: 'subscription_limit_refusals_total',
    help: 'WebSocket connections and subscriptions refused over a cap, by cap.',
    labelNames: ['limit'] as const,
    registers: [options.metrics],
  });
  const connectionsPerAddress = createCountLimit(config.GATEWAY_WS_MAX_CONNECTIONS_PER_ADDRESS);
  const connectionsPerTenant = createCountLimit(config.GATEWAY_WS_MAX_CONNECTIONS_PER_TENANT);
  const subscriptionsPerTenant = createCountLimit(config.GATEWAY_WS_MAX_SUBSCRIPTIONS_PER_TENANT);
  const maxSubscriptionsPerSocket = config.GATEWAY_WS_MAX_SUBSCRIPTIONS_PER_SOCKET;
  // Weak: graphql-ws still completes a closed socket's subscriptions (onComplete) after the socket is gone.
  const connections = new WeakMap<WebSocket, Connection>();
  const connectionOf = (socket: WebSocket): Connection => {
    const connection = connections.get(socket);
    if (!connection) throw new Error('a graphql-ws socket that the upgrade handler did not register');
    return connection;
  };
  const tenantOf = (connection: Connection): string => {
    // graphql-ws takes a subscribe only on an acknowledged socket, and onConnect sets the tenant before acknowledging.
    if (connection.tenantId === undefined) throw new Error('a subscribe on a socket that was not authenticated');
    return connection.tenantId;
  };
  /** Per tenant subscribed to, a way to end each of its live subscriptions. */
  const liveByTenant = new Map<string, Set<() => void>>();
  const releaseSubscription = (connection: Connection, id: string) => {
    if (connection.subscriptions.delete(id)) subscriptionsPerTenant.release(tenantOf(connection));
  };
  const closeWhenExpired = (connection: Connection, socket: WebSocket, expiresAtMs: number) => {
    const delayMs = expiresAtMs - Date.now();
    connection.timer =
      delayMs > MAX_TIMER_MS
        ? setTimeout(closeWhenExpired, MAX_TIMER_MS, connection, socket, expiresAtMs)
        : setTimeout(() => socket.close(UNAUTHENTICATED_CLOSE_CODE, 'UNAUTHENTICATED'), delayMs);
  };
  /** A subscribe over a cap: refused like a step's refusal, with the cap in the extensions. */
  const overLimit = (limit: 'subscriptions-per-socket' | 'subscriptions-per-tenant', max: number): Refusal => {
    refusedOverLimit.inc({ limit });
    return refusal('RATE_LIMITED', `over the cap of ${max} live subscriptions (${limit})`, { limit, max });
  };

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
  // The same cap as an HTTP body: ws would otherwise buffer up to 100 MiB, and graphql-ws parse it, before any token is checked.
  const maxPayload = app.initialConfig.bodyLimit;
  if (maxPayload === undefined) throw new Error('the app has no body limit to cap WebSocket frames at');
  const wss = new WebSocketServer({ noServer: true, maxPayload });
  const server = useServer<Record<string, unknown>, { request: IncomingMessage; socket: WebSocket }>(
    {
      // Off: the connection's own timer (set on upgrade) also covers a connection_init whose token is still being verified.
      connectionInitWaitTimeout: 0,
      onConnect: async (ctx) => {
        const context = contextOf(ctx.extra.request, ctx.connectionParams);
        const refused = await runRequestSteps(options.connectSteps, context);
        if (refused) {
          logger.info({ code: refused.code, ...refused.extensions }, 'subscription connection refused');
          // graphql-ws closes with 4403 too once this returns false; closing first puts the code in the reason.
          ctx.extra.socket.close(refused.code === 'RATE_LIMITED' ? RATE_LIMITED_CLOSE_CODE : FORBIDDEN_CLOSE_CODE, refused.code);
          return false;
        }
        assertReached(context, 'connection', 'principal');
        // Closed while the token was verified (the init timeout, or the client left): nothing to count, nothing to arm.
        if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
        const { tenantId, expiresAt } = context.principal;
        if (!connectionsPerTenant.tryAcquire(tenantId)) {
          refusedOverLimit.inc({ limit: 'connections-per-tenant' });
          context.log.info({ tenantId, max: connectionsPerTenant.max }, 'subscription connection over the tenant cap');
          ctx.extra.socket.close(RATE_LIMITED_CLOSE_CODE, 'RATE_LIMITED');
          return false;
        }
        const connection = connectionOf(ctx.extra.socket);
        connection.tenantId = tenantId;
        clearTimeout(connection.timer);
        closeWhenExpired(connection, ctx.extra.socket, expiresAt.getTime());
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const connection = connectionOf(ctx.extra.socket);
        // Counted before any step runs, so that subscribes sent at once cannot all pass the check while the steps await.
        if (connection.subscriptions.size >= maxSubscriptionsPerSocket)
          return refusalErrors(overLimit('subscriptions-per-socket', maxSubscriptionsPerSocket));
        if (!subscriptionsPerTenant.tryAcquire(tenantOf(connection)))
          return refusalErrors(overLimit('subscriptions-per-tenant', subscriptionsPerTenant.max));
        connection.subscriptions.add(id);
        let admitted = false;
        try {
          // graphql-ws requires a `query` string: persisted-only clients send it empty.
          const context = contextOf(ctx.extra.request, ctx.connectionParams, { ...payload, query: payload.query || undefined });
          // The token is verified again: a key rotated out (or a token past its leeway) ends the connection, not just this subscribe.
          const unauthenticated = await runRequestSteps(options.connectSteps, context);
          if (unauthenticated) {
            // A throttled address is refused this subscribe; a token no longer valid loses the connection.
            if (unauthenticated.code === 'UNAUTHENTICATED') {
              context.log.info(
                { code: unauthenticated.code, ...unauthenticated.extensions },
                'subscription connection no longer authenticated',
              );
              ctx.extra.socket.close(UNAUTHENTICATED_CLOSE_CODE, unauthenticated.code);
            }
            return refusalErrors(unauthenticated);
          }
          const refused = await runRequestSteps(options.subscribeSteps, context);
          if (refused) {
            context.log.info({ code: refused.code, ...refused.extensions }, 'subscription refused');
            return refusalErrors(refused);
          }
          assertReached(context, 'subscription', 'operation', 'variables', 'tenantIds');
          const { operation, variables } = context;
          const [tenantId] = context.tenantIds;
          if (tenantId === undefined) throw new Error('the persisted-operation step lets a subscription through only with one tenant');

          try {
            await hub.ensureSubscribed();
          } catch (error) {
            // Redis is away: a refusal the client can retry on, not an internal error that closes its socket.
            context.log.warn({ err: error }, 'subscription refused: the CoherenceChanged stream is unavailable');
            return refusalErrors(
              refusal('SERVICE_UNAVAILABLE', 'live events are unavailable; retry shortly', {
                retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
              }),
            );
          }
          const changes = hub.subscribe(tenantId);
          let end!: () => void;
          const ended = new Promise<'ended'>((resolve) => (end = () => resolve('ended')));
          const live = liveByTenant.get(tenantId) ?? new Set();
          liveByTenant.set(tenantId, live.add(end));
          let finished = false;
          const finish = () => {
            finished = true;
            live.delete(end);
            if (live.size === 0 && liveByTenant.get(tenantId) === live) liveByTenant.delete(tenantId);
            return changes.return!();
          };
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
                    if (finished) return { done: true, value: undefined };
                    const next = await Promise.race([changes.next(), ended]);
                    if (next !== 'ended') return next.done ? next : { done: false, value: { coherenceEvents: next.value.current } };
                    await finish();
                    return { done: false, value: endedBy('TENANT_SUSPENDED', `tenant ${tenantId} is suspended`) };
                  },
                  return: finish,
                }),
              }),
            },
          };
          admitted = true;
          return args;
        } finally {
          // An admitted subscription is released by onComplete, which graphql-ws calls when it ends (also when the socket closes).
          if (!admitted) releaseSubscription(connection, id);
        }
      },
      onComplete: (ctx, id) => releaseSubscription(connectionOf(ctx.extra.socket), id),
    },
    wss,
  );

  app.server.on('upgrade', (request, socket, head) => {
    if (new URL(request.url ?? '/', 'http://gateway').pathname !== WEBSOCKET_PATH) {
      socket.destroy();
      return;
    }
    // Browsers do not apply CORS to WebSockets: the Origin they always send is the only sign of whose page opened the socket.
    if (!options.origins.admits(request.headers.origin)) {
      const reason = 'origin not allowed (GATEWAY_CORS_ORIGINS)';
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${reason.length}\r\n\r\n${reason}`,
      );
      return;
    }
    // Counted on the TCP socket, before the handshake: a refused client gets a plain 429 and the gateway allocates nothing for it.
    // An IPv6 host may use any address of its /64: all of them count as one.
    const address = addressKey(request.socket.remoteAddress ?? '');
    if (!connectionsPerAddress.tryAcquire(address)) {
      refusedOverLimit.inc({ limit: 'connections-per-address' });
      socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    socket.once('close', () => connectionsPerAddress.release(address));
    wss.handleUpgrade(request, socket, head, (ws) => {
      const connection: Connection = {
        tenantId: undefined,
        subscriptions: new Set(),
        timer: setTimeout(() => ws.close(INIT_TIMEOUT_CLOSE_CODE, 'Connection initialisation timeout'), config.GATEWAY_WS_INIT_TIMEOUT_MS),
      };
      connections.set(ws, connection);
      ws.once('close', () => {
        clearTimeout(connection.timer);
        if (connection.tenantId !== undefined) connectionsPerTenant.release(connection.tenantId);
      });
      wss.emit('connection', ws, request);
      // ws closes the socket itself on a protocol error (1009 for a frame over maxPayload); graphql-ws's listener
      // would only print the error and its stack to stderr, once per unauthenticated client that sends one.
      ws.removeAllListeners('error');
      ws.on('error', (err: Error & { code?: string }) => logger.debug({ code: err.code, address }, 'websocket closed on a protocol error'));
    });
  });
  // Before the HTTP server closes: open sockets would otherwise keep it from finishing.
  app.addHook('preClose', async () => {
    await server.dispose();
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await hub.close();
  });
  return {
    /** Ends every live subscription to `tenantId` with TENANT_SUSPENDED (it was suspended: new subscribes are refused by the policy). */
    endSubscriptionsOf(tenantId: string): void {
      for (const end of liveByTenant.get(tenantId) ?? []) end();
    },
  };
}
