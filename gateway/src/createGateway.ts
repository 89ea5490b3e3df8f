import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { createTokenVerifier } from '@coherence/auth';
import { childTraceparent, formatTraceparent, injectTraceContext, tenantIdSchema, type TraceContext } from '@coherence/contracts';
import { createPgPool, createServiceApp, maskUnexpectedErrors, recordSecurityEvent, type Logger } from '@coherence/platform';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAuthenticator } from './auth/createAuthenticator';
import type { GatewayConfig } from './config';
import { createSecurityMetrics } from './createSecurityMetrics';
import { gatewayErrorCodes, graphqlErrorBody, type GatewayErrorCode } from './errors';
import { createFreeTextOperation } from './persisted/createFreeTextOperation';
import { createPersistedOperations } from './persisted/createPersistedOperations';
import { resolvePersistedRequest } from './persisted/resolvePersistedRequest';
import { createAuthorizer } from './policy/createAuthorizer';
import { createDecisionRecorder } from './policy/createDecisionRecorder';
import { createPolicyEngine } from './policy/createPolicyEngine';
import { policyBundleFiles } from './policy/loadPolicyBundle';
import { watchReloads } from './reload/watchReloads';
import { attachCoherenceSubscriptions } from './subscriptions/attachCoherenceSubscriptions';
import { readSubscriptionConfig } from './subscriptions/config';
import type { SubgraphName } from './supergraph/subgraphs';
import { createTenantDirectory } from './tenants/createTenantDirectory';

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
    buildService: ({ name }) => new TracingDataSource({ url: subgraphUrls[name as SubgraphName] }),
  });
  const apollo = new ApolloServer<GatewayContext>({ gateway, formatError: maskUnexpectedErrors, introspection: false });
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
  const decisions = createDecisionRecorder({
    pool,
    logger,
    region: config.GATEWAY_REGION,
    flushMs: config.GATEWAY_DECISION_FLUSH_MS,
    batchSize: config.GATEWAY_DECISION_BATCH_SIZE,
    onDropped: (count) => securityMetrics.decisionsDropped.inc(count),
  });
  const authenticate = createAuthenticator({ verifyToken, pool, logger, metrics: securityMetrics });
  const authorize = createAuthorizer({
    policy,
    tenants: createTenantDirectory({ pool, ttlMs: config.GATEWAY_TENANT_CACHE_TTL_MS }),
    decisions,
    pool,
    logger,
    metrics: securityMetrics,
    region: config.GATEWAY_REGION,
    pausedScopes: config.GATEWAY_PAUSED_SCOPES,
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

    // Apollo sees a plain POST of the operation's text: for persisted ids, the manifest's text is the only text it ever runs.
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
  // coherenceEvents over graphql-ws on the same server and path (upgrade requests); see docs/adr/0004.
  attachCoherenceSubscriptions(app, {
    logger,
    metrics,
    apiSchema,
    operations: () => operations,
    verifyToken,
    authorize,
    config: readSubscriptionConfig(),
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
      // After the server has drained: no request can add a decision any more.
      await decisions.close();
      await pool.end();
    },
  };
}
