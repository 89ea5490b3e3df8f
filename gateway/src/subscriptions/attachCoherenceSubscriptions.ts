import { SCOPES, type Principal, type TokenVerifier } from '@coherence/auth';
import { POLICY_REASON_CODES, tenantIdSchema } from '@coherence/contracts';
import type { Logger } from '@coherence/platform';
import type { FastifyInstance } from 'fastify';
import { GraphQLError, parse, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import type { AuthDenialRecorder } from '../auth/createAuthenticator';
import type { GatewayOperation, PersistedOperations } from '../persisted/createPersistedOperations';
import type { Authorizer } from '../policy/createAuthorizer';
import type { SubscriptionConfig } from './config';
import { createCoherenceEventHub } from './createCoherenceEventHub';

export interface CoherenceSubscriptionsOptions {
  logger: Logger;
  /** The gateway's registry: `subscription_fanout_latency_ms` and the open-subscription gauge go there. */
  metrics: Registry;
  /** The supergraph's API schema (it declares `Subscription.coherenceEvents`). */
  apiSchema: GraphQLSchema;
  /** The persisted operations now active (the gateway swaps them on reload). */
  operations: () => PersistedOperations;
  verifyToken: TokenVerifier;
  /** Records a refused connection as an AUTH_DENY security event (the gateway's recorder; none in the fan-out benchmark). */
  recordAuthDenial?: AuthDenialRecorder;
  /**
   * The gateway's policy decision (OPA). Without one — the fan-out benchmark
   * runs without a policy bundle — the token must hold `coherence:read`, or
   * `coherence:read:self` for its own tenant.
   */
  authorize?: Authorizer;
  /** The `v24.coherence` kill switch: true refuses a new subscription with FEATURE_DISABLED (open ones keep streaming). */
  isSwitchedOff?: (operation: GatewayOperation) => boolean;
  config: SubscriptionConfig;
}

const WEBSOCKET_PATH = '/graphql';

const refuse = (code: string, message: string, extensions: Record<string, unknown> = {}) => [
  new GraphQLError(message, { extensions: { code, ...extensions } }),
];

function bearerFrom(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const value = params?.['authorization'] ?? params?.['Authorization'];
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(value);
  return match?.[1];
}

function scopeVerdict(principal: Principal, tenantId: string): { allow: boolean; reasonCode: string } {
  if (principal.scopes.includes(SCOPES.readAny)) return { allow: true, reasonCode: POLICY_REASON_CODES.ALLOWED };
  if (!principal.scopes.includes(SCOPES.readSelf)) return { allow: false, reasonCode: POLICY_REASON_CODES.SCOPE_MISSING };
  if (principal.tenantId !== tenantId) return { allow: false, reasonCode: POLICY_REASON_CODES.TENANT_MISMATCH };
  return { allow: true, reasonCode: POLICY_REASON_CODES.ALLOWED };
}

/**
 * `coherenceEvents` over graphql-ws on the gateway's own HTTP server (path
 * `/graphql`, upgrade requests only). Same rules as HTTP: a bearer token
 * (sent as `connectionParams.authorization`), persisted operations by id only
 * (`extensions.persistedQuery.sha256Hash`, empty `query`), a policy decision
 * per subscription. Events come from the `CoherenceChanged` Redis channel,
 * coalesced per tenant.
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
  const wss = new WebSocketServer({ noServer: true });
  const server = useServer<Record<string, unknown>, { request: IncomingMessage }>(
    {
      connectionInitWaitTimeout: config.GATEWAY_SUBSCRIPTION_INIT_TIMEOUT_MS,
      onConnect: async (ctx) => {
        const verified = await options.verifyToken(bearerFrom(ctx.connectionParams));
        if (!verified.ok) {
          logger.info({ reason_code: verified.code }, 'subscription connection refused');
          const { request } = ctx.extra;
          await options.recordAuthDenial?.({
            code: verified.code,
            detail: verified.reason,
            sourceIp: request.socket.remoteAddress ?? '',
            correlationId: randomUUID(),
            userAgent: request.headers['user-agent'] ?? null,
          });
          return false;
        }
        principals.set(ctx, verified.principal);
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        if (payload.query)
          return refuse('PERSISTED_QUERY_REQUIRED', 'only persisted operations are accepted: send extensions.persistedQuery.sha256Hash');
        const persistedQuery = payload.extensions?.['persistedQuery'] as { sha256Hash?: unknown } | undefined;
        const id = typeof persistedQuery?.sha256Hash === 'string' ? persistedQuery.sha256Hash : undefined;
        if (!id) return refuse('PERSISTED_QUERY_REQUIRED', 'send the persisted operation id as extensions.persistedQuery.sha256Hash');
        const operation = options.operations().get(id);
        if (!operation) return refuse('PERSISTED_QUERY_NOT_FOUND', `no persisted operation has id ${id.slice(0, 80)}`);
        if (operation.type !== 'subscription')
          return refuse('BAD_USER_INPUT', `${operation.name} is a ${operation.type}: send it over HTTP`);
        const variables = payload.variables ?? {};
        const tenantId = variables['tenantId'];
        if (typeof tenantId !== 'string' || !tenantIdSchema.safeParse(tenantId).success)
          return refuse('BAD_USER_INPUT', 'tenantId must be a valid tenant id');

        const principal = principals.get(ctx)!;
        const verdict = options.authorize
          ? await options.authorize({
              principal,
              operation,
              tenantIds: [tenantId],
              correlationId: randomUUID(),
              sourceIp: ctx.extra.request.socket.remoteAddress ?? '',
            })
          : scopeVerdict(principal, tenantId);
        if (!verdict.allow) return refuse('FORBIDDEN', `denied by policy: ${verdict.reasonCode}`, { reasonCode: verdict.reasonCode });
        if (options.isSwitchedOff?.(operation))
          return refuse('FEATURE_DISABLED', 'coherenceEvents is switched off for now (kill switch v24.coherence)');

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
