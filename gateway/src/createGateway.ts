import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { createTokenVerifier } from '@coherence/auth';
import { REGION_HINT_HEADER } from '@coherence/flags';
import {
  childTraceparent,
  formatTraceparent,
  injectTraceContext,
  SUBJECT_HEADER,
  tenantIdSchema,
  type TraceContext,
} from '@coherence/contracts';
import { createPgPool, createServiceApp, maskUnexpectedErrors, recordSecurityEvent, type Logger } from '@coherence/platform';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAuthDenialRecorder, createAuthenticator } from './auth/createAuthenticator';
import type { GatewayConfig } from './config';
import { createGatewayRedis } from './cache/createGatewayRedis';
import { createTenantCoherenceCache } from './cache/createTenantCoherenceCache';
import { createSecurityMetrics } from './createSecurityMetrics';
import { gatewayErrorCodes, graphqlErrorBody, type GatewayErrorCode } from './errors';
import { createGatewayFlags, FEATURE_DISABLED_MESSAGE } from './flags/createGatewayFlags';
import { createFreeTextOperation } from './persisted/createFreeTextOperation';
import { createPersistedOperations } from './persisted/createPersistedOperations';
import { resolvePersistedRequest } from './persisted/resolvePersistedRequest';
import { createAuthorizer } from './policy/createAuthorizer';
import { createDecisionRecorder } from './policy/createDecisionRecorder';
import { createPolicyEngine } from './policy/createPolicyEngine';
import { policyBundleFiles } from './policy/loadPolicyBundle';
import { createGatewayLimiter } from './ratelimit/createGatewayLimiter';
import { watchReloads } from './reload/watchReloads';
import { attachCoherenceSubscriptions } from './subscriptions/attachCoherenceSubscriptions';
import type { SubgraphName } from './supergraph/subgraphs';
import { createTenantDirectory } from './tenants/createTenantDirectory';

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

/**
 * The gateway. Every request is authenticated (JWT), matched to a persisted
 * operation, and decided by the OPA-Wasm policy before anything reaches a
 * subgraph; every decision is queued for the audit table. The manifest and
 * the policy bundle are hot-reloaded (file change or SIGHUP); a bad one is
 * refused and the previous stays active.
 */
export async function createGateway(config: GatewayConfig, logger: Logger) {
  const supergraphSdl = await readFile(config.GATEWAY_SUPERGRAPH_PATH, 'utf8');
  const apiSchema = apiSchemaFromSupergraph(supergraphSdl);
  const loadOperations = async () => createPersistedOperations(JSON.parse(await readFile(config.GATEWAY_MANIFEST_PATH, 'utf8')), apiSchema);
  // At start a bad manifest stops the gateway; on reload it is refused and the running one stays.
  let operations = await loadOperations();
  logger.info({ operations: operations.size }, 'persisted operations loaded');
  const freeText = config.GATEWAY_BREAK_GLASS_FREE_TEXT ? (query: string) => createFreeTextOperation(query, apiSchema) : undefined;
  if (freeText) logger.warn('BREAK GLASS is on: query text is accepted (still authenticated and policy-checked)');

  const pool = createPgPool(config.GATEWAY_DATABASE_URL, { onIdleError: (err) => logger.warn({ err }, 'idle postgres client failed') });
  const verifyToken = await createTokenVerifier({ jwks: config.GATEWAY_JWKS, issuers: config.GATEWAY_TOKEN_ISSUERS });
  // With no valid bundle the gateway still starts, denies every request, and is not ready.
  const policy = createPolicyEngine(logger);
  await policy.activate(config.GATEWAY_POLICY_BUNDLE_DIR);

  const subgraphUrls: Record<SubgraphName, string> = {
    coherence: config.SUBGRAPH_COHERENCE_URL,
    ingest: config.SUBGRAPH_INGEST_URL,
    comms: config.SUBGRAPH_COMMS_URL,
  };
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name }) =>
      Object.assign(new TracingDataSource({ url: subgraphUrls[name as SubgraphName] }), { sendsRegionHint: name === 'coherence' }),
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: maskUnexpectedErrors,
    introspection: false,
    // Apollo's default depends on NODE_ENV; internals never reach clients, whatever the environment.
    includeStacktraceInErrorResponses: false,
  });
  await apollo.start();

  const { app, metrics, markDraining } = createServiceApp({
    logger,
    bodyLimitBytes: config.GATEWAY_BODY_LIMIT_BYTES,
    errorBody: graphqlErrorBody,
    readinessChecks: [
      ...Object.entries(subgraphUrls).map(([name, url]) => ({
        name: `subgraph:${name}`,
        check: async () => {
          const response = await fetch(new URL('/readyz', url), { signal: AbortSignal.timeout(2_000) });
          if (!response.ok) throw new Error(`readyz answered ${response.status}`);
        },
      })),
      { name: 'postgres', check: async () => void (await pool.query('SELECT 1')) },
      {
        name: 'policy',
        check: async () => {
          if (!policy.activeBundle()) throw new Error('no policy bundle is active: every request is denied');
        },
      },
    ],
  });
  const securityMetrics = createSecurityMetrics(metrics);
  const gatewayFlags = await createGatewayFlags({ config, supergraphSdl, logger, metrics });
  const decisions = createDecisionRecorder({
    pool,
    logger,
    region: config.GATEWAY_REGION,
    flushMs: config.GATEWAY_DECISION_FLUSH_MS,
    batchSize: config.GATEWAY_DECISION_BATCH_SIZE,
    onDropped: (count, reason) => securityMetrics.decisionsDropped.inc({ reason }, count),
  });
  const recordAuthDenial = createAuthDenialRecorder({ pool, logger, metrics: securityMetrics });
  const authenticate = createAuthenticator({ verifyToken, recordAuthDenial });
  // Residency for the policy, weight for the limiter, TTL override for the cache: one cached read per tenant.
  const tenants = createTenantDirectory({ pool, ttlMs: config.GATEWAY_TENANT_CACHE_TTL_MS });
  const authorize = createAuthorizer({
    policy,
    tenants,
    decisions,
    pool,
    logger,
    metrics: securityMetrics,
    region: config.GATEWAY_REGION,
    pausedScopes: config.GATEWAY_PAUSED_SCOPES,
  });
  // Cache and limiter share one Redis and work around it when it fails (docs/adr/0006-gateway-cache-and-limiter.md).
  const gatewayRedis = createGatewayRedis({
    url: config.GATEWAY_REDIS_URL,
    commandTimeoutMs: config.GATEWAY_REDIS_COMMAND_TIMEOUT_MS,
    logger,
    metrics,
  });
  await gatewayRedis.connected(2_000);
  const limiter = createGatewayLimiter({
    gatewayRedis,
    keyPrefix: config.GATEWAY_REDIS_KEY_PREFIX,
    ratePerSecond: config.GATEWAY_RATE_PER_SECOND,
    burstSeconds: config.GATEWAY_RATE_BURST_SECONDS,
    maxInFlight: config.GATEWAY_SATURATION_IN_FLIGHT,
    maxLoopDelayMs: config.GATEWAY_SATURATION_LOOP_DELAY_MS,
    tenants,
    metrics,
  });
  const readCache = createTenantCoherenceCache({
    enabled: config.GATEWAY_CACHE_ENABLED,
    gatewayRedis,
    redisUrl: config.GATEWAY_REDIS_URL,
    channel: config.COHERENCE_CHANGED_CHANNEL,
    keyPrefix: config.GATEWAY_REDIS_KEY_PREFIX,
    defaultTtlSeconds: config.GATEWAY_CACHE_TTL_SECONDS,
    ttlJitter: config.GATEWAY_CACHE_TTL_JITTER,
    lockWaitMs: config.GATEWAY_CACHE_LOCK_WAIT_MS,
    tenants,
    logger,
    metrics,
  });
  const reloads = watchReloads(
    [
      {
        name: 'manifest',
        file: config.GATEWAY_MANIFEST_PATH,
        reload: async () => {
          try {
            operations = await loadOperations();
            securityMetrics.reloads.inc({ artifact: 'manifest', outcome: 'activated' });
            logger.info({ operations: operations.size }, 'persisted operations reloaded');
          } catch (error) {
            securityMetrics.reloads.inc({ artifact: 'manifest', outcome: 'refused' });
            logger.error({ err: error }, 'persisted query manifest refused; the previous one stays active');
          }
        },
      },
      {
        name: 'policy',
        // The build writes manifest.json last, so its change means the bundle is complete.
        file: join(config.GATEWAY_POLICY_BUNDLE_DIR, policyBundleFiles.manifest),
        reload: async () => {
          const result = await policy.activate(config.GATEWAY_POLICY_BUNDLE_DIR);
          securityMetrics.reloads.inc({ artifact: 'policy', outcome: result.ok ? 'activated' : 'refused' });
        },
      },
    ],
    logger,
  );

  const refuse = (reply: FastifyReply, code: GatewayErrorCode, message: string, extensions: Record<string, unknown> = {}) =>
    reply.code(gatewayErrorCodes[code]).send(graphqlErrorBody(code, message, extensions));

  async function handleGraphQL(request: FastifyRequest, reply: FastifyReply) {
    const securityTimer = securityMetrics.requestSecuritySeconds.startTimer();
    const authentication = await authenticate(request);
    if (!authentication.ok) {
      request.log.info({ code: 'UNAUTHENTICATED', reason_code: authentication.reasonCode }, 'graphql request refused');
      void reply.header('www-authenticate', 'Bearer error="invalid_token"');
      return refuse(reply, 'UNAUTHENTICATED', authentication.message, { reasonCode: authentication.reasonCode });
    }
    const { principal } = authentication;

    const method = request.method === 'GET' ? 'GET' : 'POST';
    const resolved = resolvePersistedRequest(method, method === 'GET' ? request.query : request.body, operations, freeText);
    if (!resolved.ok) {
      request.log.info({ code: resolved.code }, 'graphql request refused');
      return refuse(reply, resolved.code, resolved.message);
    }
    const { operation, variables } = resolved;
    const tenantIds = operation.shape.tenantIds(variables);
    const log = request.log.child({
      operation_id: operation.id,
      operation_name: operation.name,
      subject: principal.subject,
      ...(tenantIds[0] ? { tenant_id: tenantIds[0] } : {}),
    });
    const invalidTenant = tenantIds.find((tenantId) => !tenantIdSchema.safeParse(tenantId).success);
    if (invalidTenant !== undefined) return refuse(reply, 'BAD_USER_INPUT', 'a tenantId variable is not a valid tenant id');
    if (resolved.breakGlass) {
      securityMetrics.breakGlassRequests.inc();
      log.warn({ break_glass: true, query: operation.body }, 'break glass: running query text');
      await recordSecurityEvent(pool, {
        kind: 'BREAK_GLASS',
        tenantId: tenantIds[0] ?? principal.tenantId,
        service: 'gateway',
        subject: principal.subject,
        clientId: principal.clientId,
        reason: 'query text run with break glass on',
        sourceIp: request.ip,
        correlationId: request.trace.requestId,
        details: { operationId: operation.id, query: operation.body.slice(0, 4_000) },
      });
    }

    const verdict = await authorize({ principal, operation, tenantIds, correlationId: request.trace.requestId, sourceIp: request.ip });
    if (!verdict.allow) {
      log.info({ code: 'FORBIDDEN', reason_code: verdict.reasonCode }, 'graphql request denied by policy');
      return refuse(reply, 'FORBIDDEN', `denied by policy: ${verdict.reasonCode}`, { reasonCode: verdict.reasonCode });
    }
    securityTimer();

    // Before the limiter and the cache: a switched-off operation spends no share and is never answered from the cache.
    if (gatewayFlags.isSwitchedOff(operation)) {
      log.info({ code: 'FEATURE_DISABLED' }, 'graphql request refused: kill switch v24.coherence is off');
      return refuse(reply, 'FEATURE_DISABLED', FEATURE_DISABLED_MESSAGE);
    }

    // After the policy: a refused request spends nothing of the tenant's share.
    const admission = await limiter.admit(tenantIds[0] ?? principal.tenantId);
    if (!admission.allowed) {
      log.info({ code: 'RATE_LIMITED', retry_after_seconds: admission.retryAfterSeconds }, 'graphql request over the tenant share');
      void reply.header('retry-after', String(admission.retryAfterSeconds));
      return refuse(reply, 'RATE_LIMITED', `over the tenant's request share; retry in ${admission.retryAfterSeconds} s`, {
        retryAfterSeconds: admission.retryAfterSeconds,
      });
    }

    const response = await readCache.serve({ operation, variables, tenantIds }, async () => {
      // Apollo sees a plain POST of the operation's text: for persisted ids, the manifest's text is the only text it ever runs.
      const executed = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: {
          method: 'POST',
          headers: new HeaderMap([['content-type', 'application/json']]),
          search: '',
          body: { query: operation.body, operationName: operation.name, variables },
        },
        context: async () => ({
          log,
          trace: request.trace,
          operationId: operation.id,
          subject: principal.subject,
          regionHint: gatewayFlags.regionHint(),
        }),
      });
      let body = '';
      if (executed.body.kind === 'complete') body = executed.body.string;
      else for await (const chunk of executed.body.asyncIterator) body += chunk;
      return { status: executed.status ?? 200, headers: [...executed.headers], body };
    });
    for (const [name, value] of response.headers) void reply.header(name, value);
    void reply.header('traceparent', formatTraceparent(request.trace.traceparent));
    reply.code(response.status);
    return reply.send(response.body);
  }
  app.route({ method: ['GET', 'POST'], url: '/graphql', handler: (request, reply) => limiter.track(() => handleGraphQL(request, reply)) });
  // coherenceEvents over graphql-ws on the same server and path (upgrade requests); see docs/adr/0004.
  attachCoherenceSubscriptions(app, {
    logger,
    metrics,
    apiSchema,
    operations: () => operations,
    verifyToken,
    recordAuthDenial,
    authorize,
    isSwitchedOff: (operation) => gatewayFlags.isSwitchedOff(operation),
    config,
  });

  return {
    app,
    /** Writes the queued policy decisions now (tests, benchmarks). */
    flushDecisions: () => decisions.flush(),
    /** Re-reads the manifest and the policy bundle, as SIGHUP does. */
    reload: () => reloads.reloadAll(),
    async close() {
      markDraining();
      await reloads.close();
      await app.close();
      await apollo.stop();
      gatewayFlags.close();
      await readCache.close();
      limiter.close();
      await gatewayRedis.close();
      // After the server has drained: no request can add a decision any more.
      await decisions.close();
      await pool.end();
    },
  };
}
