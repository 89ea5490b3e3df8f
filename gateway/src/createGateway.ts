import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import { createTokenVerifier } from '@coherence/auth';
import { createAdminApp, createPgPool, createServiceApp, type Logger } from '@coherence/platform';
import {
  acceptsUnknownClients,
  createClientDirectory,
  createPolicyEngine,
  createTenantDirectory,
  listenForTenantChanges,
  policyBundleFiles,
} from '@coherence/policy';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGatewayAudit } from './audit/createGatewayAudit';
import type { GatewayConfig } from './config';
import { createGatewayRedis } from './cache/createGatewayRedis';
import { createTenantCoherenceCache } from './cache/createTenantCoherenceCache';
import { createSecurityMetrics } from './createSecurityMetrics';
import { graphqlErrorBody } from './errors';
import { gatewayReadinessChecks } from './gatewayReadinessChecks';
import { createOperationExecutor } from './execution/createOperationExecutor';
import { createGatewayFlags } from './flags/createGatewayFlags';
import { createBreakGlass } from './persisted/createBreakGlass';
import { createOperationStore } from './persisted/createOperationStore';
import { assemblePipelines } from './pipeline/assemblePipelines';
import { createHttpHandler } from './pipeline/createHttpHandler';
import { createOriginAllowList } from './browser/originAllowList';
import { registerBrowserSafety } from './browser/registerBrowserSafety';
import { createAuthorizer } from './policy/createAuthorizer';
import { createShadowPolicy } from './policy/createShadowPolicy';
import { createGatewayLimiter } from './ratelimit/createGatewayLimiter';
import { createArtifactActivationRecorder } from './reload/artifactActivation';
import { watchReloads } from './reload/watchReloads';
import { attachCoherenceSubscriptions } from './subscriptions/attachCoherenceSubscriptions';
import type { SubgraphName } from './supergraph/subgraphs';

/**
 * The gateway, wired: its stores, policy, audit, limiter and cache, the
 * steps over them (in the order `pipeline/assemblePipelines.ts` writes once,
 * docs/adr/0009), the HTTP route and the graphql-ws endpoint. The manifest
 * and the policy bundle are signed artifacts, hot-reloaded (file change or
 * SIGHUP); an unsigned, wrongly signed, older or bad one is refused and the
 * previous stays active; every activation and refusal is a security event
 * (docs/adr/0012-signed-artifacts.md).
 */
export async function createGateway(config: GatewayConfig, logger: Logger) {
  const supergraphSdl = await readFile(config.GATEWAY_SUPERGRAPH_PATH, 'utf8');
  const apiSchema = apiSchemaFromSupergraph(supergraphSdl);
  const operations = await createOperationStore({
    manifestPath: config.GATEWAY_MANIFEST_PATH,
    apiSchema,
    publicKey: config.GATEWAY_MANIFEST_PUBLIC_KEY.key,
    allowRollback: config.GATEWAY_ALLOW_ROLLBACK,
    logger,
  });
  const breakGlassUntil = config.GATEWAY_BREAK_GLASS_UNTIL;
  const breakGlass = breakGlassUntil && createBreakGlass({ apiSchema, until: breakGlassUntil });
  if (breakGlassUntil)
    logger.warn(
      { break_glass_until: breakGlassUntil.toISOString() },
      'BREAK GLASS is on: query text is accepted from platform:break-glass tokens issued in the last 15 minutes (policy-checked, audited)',
    );

  const pool = createPgPool(config.GATEWAY_DATABASE_URL, {
    onIdleError: (err) => logger.warn({ err }, 'idle postgres client failed'),
    // The gateway runs without the pg instrumentation (docs/adr/0020-traces.md).
    traceQueries: true,
  });
  const verifyToken = await createTokenVerifier({
    jwks: config.GATEWAY_JWKS,
    issuers: config.GATEWAY_TOKEN_ISSUERS,
    maxLifetimeSeconds: config.GATEWAY_TOKEN_MAX_LIFETIME_SECONDS,
  });
  const policy = createPolicyEngine({
    logger,
    publicKey: config.GATEWAY_POLICY_PUBLIC_KEY.key,
    allowRollback: config.GATEWAY_ALLOW_ROLLBACK,
  });

  const subgraphUrls: Record<SubgraphName, string> = {
    coherence: config.SUBGRAPH_COHERENCE_URL,
    ingest: config.SUBGRAPH_INGEST_URL,
    comms: config.SUBGRAPH_COMMS_URL,
  };
  // Readiness (a call to each subgraph, a Postgres query) runs on the admin listener only: a public request never starts it.
  const admin = createAdminApp({ logger, readinessChecks: gatewayReadinessChecks({ subgraphUrls, pool, policy }) });
  const { metrics } = admin;
  const { app } = createServiceApp({
    logger,
    admin,
    bodyLimitBytes: config.GATEWAY_BODY_LIMIT_BYTES,
    errorBody: graphqlErrorBody,
    // Internet-facing: the correlation id is a trace id, never a client's string (issue 13, item 9).
    trustRequestId: false,
  });
  const securityMetrics = createSecurityMetrics(metrics);
  const gatewayFlags = await createGatewayFlags({ config, supergraphSdl, logger, metrics });
  const executor = await createOperationExecutor({
    supergraphSdl,
    subgraphUrls,
    signingKeyPath: config.GATEWAY_INTERNAL_SIGNING_KEY,
    region: config.GATEWAY_REGION,
    regionHint: () => gatewayFlags.regionHint(),
    shareCalls: config.GATEWAY_SHARE_SUBGRAPH_CALLS,
    callsInFlight: config.GATEWAY_SUBGRAPH_CALLS_IN_FLIGHT,
    subgraphTimeoutMs: config.GATEWAY_SUBGRAPH_TIMEOUT_MS,
  });
  const audit = createGatewayAudit({
    pool,
    logger,
    region: config.GATEWAY_REGION,
    flushMs: config.GATEWAY_DECISION_FLUSH_MS,
    batchSize: config.GATEWAY_DECISION_BATCH_SIZE,
    metrics: securityMetrics,
    checkContracts: config.NODE_ENV !== 'production',
  });
  const recordActivation = createArtifactActivationRecorder({ events: audit.securityEvents, metrics: securityMetrics });
  recordActivation('manifest', config.GATEWAY_MANIFEST_PATH, operations.started);
  // With no valid bundle the gateway still starts, denies every request, and is not ready.
  recordActivation('policy', config.GATEWAY_POLICY_BUNDLE_DIR, await policy.activate(config.GATEWAY_POLICY_BUNDLE_DIR));
  // Residency for the policy, weight for the limiter, TTL override for the cache: read once per request by the tenant step.
  const tenants = createTenantDirectory({
    pool,
    ttlMs: config.GATEWAY_TENANT_CACHE_TTL_MS,
    negativeTtlMs: config.GATEWAY_TENANT_NEGATIVE_CACHE_TTL_MS,
  });
  // The token's client_id: an enabled client of its tenant, with every scope the token carries (docs/adr/0031).
  const clients = createClientDirectory({
    pool,
    ttlMs: config.GATEWAY_TENANT_CACHE_TTL_MS,
    acceptUnknown: acceptsUnknownClients(config.GATEWAY_ACCEPT_UNKNOWN_CLIENTS, config.NODE_ENV),
  });
  const shadow =
    config.GATEWAY_SHADOW_BUNDLE_DIR === undefined
      ? undefined
      : await createShadowPolicy({
          dir: config.GATEWAY_SHADOW_BUNDLE_DIR,
          publicKey: config.GATEWAY_POLICY_PUBLIC_KEY.key,
          logger,
          metrics: securityMetrics,
        });
  const authorize = createAuthorizer({
    policy,
    shadow,
    audit: { decisions: audit.decisions, events: audit.securityEvents },
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
    callerRatePerSecond: config.GATEWAY_CALLER_RATE_PER_SECOND,
    burstSeconds: config.GATEWAY_RATE_BURST_SECONDS,
    maxInFlight: config.GATEWAY_SATURATION_IN_FLIGHT,
    maxLoopDelayMs: config.GATEWAY_SATURATION_LOOP_DELAY_MS,
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
    logger,
    metrics,
  });
  const reloads = watchReloads(
    [
      {
        name: 'manifest',
        files: operations.files,
        reload: async () => recordActivation('manifest', config.GATEWAY_MANIFEST_PATH, await operations.reload()),
      },
      {
        name: 'policy',
        // The build writes .signatures.json last, so its change means the bundle is complete.
        files: [join(config.GATEWAY_POLICY_BUNDLE_DIR, policyBundleFiles.signatures)],
        reload: async () =>
          recordActivation('policy', config.GATEWAY_POLICY_BUNDLE_DIR, await policy.activate(config.GATEWAY_POLICY_BUNDLE_DIR)),
      },
      ...(shadow ? [{ name: 'shadow policy', files: [shadow.watchedFile], reload: shadow.reload }] : []),
    ],
    logger,
  );

  // One pipeline, two transports (docs/adr/0009): the order of the steps is written once, in assemblePipelines.
  const pipelines = assemblePipelines({
    refusalThrottle: { refusalsPerSecond: config.GATEWAY_ADDRESS_REFUSALS_PER_SECOND, burst: config.GATEWAY_ADDRESS_REFUSAL_BURST },
    verifyToken,
    recordAuthDenial: audit.recordAuthDenial,
    clients,
    securityEvents: audit.securityEvents,
    operations: operations.current,
    breakGlass,
    tenants,
    pool,
    authorize,
    isSwitchedOff: (operation) => gatewayFlags.isSwitchedOff(operation),
    limiter,
    readCache,
    metrics,
    securityMetrics,
  });
  const handleGraphQL = createHttpHandler({
    steps: pipelines.http,
    execute: async (context, request) => {
      const executed = await executor.execute(context, request.trace);
      // Read your writes: TenantChanged reaches this gateway asynchronously, and the caller's next request can come
      // first (a tenant just created was still "not registered" here). The gateway that ran a mutation forgets the
      // tenants it named or touched at once; the others still learn of it from TenantChanged.
      if (context.operation.type === 'mutation') new Set([...context.tenantIds, ...(context.tenantsTouched ?? [])]).forEach(forgetTenant);
      return executed;
    },
  });
  // One allow-list for CORS and the WebSocket upgrade: a page that may not read answers may not open a socket either.
  const origins = createOriginAllowList(config.GATEWAY_CORS_ORIGINS);
  await registerBrowserSafety(app, { origins, maxAgeSeconds: config.GATEWAY_CORS_MAX_AGE_SECONDS });
  app.route({
    method: ['GET', 'POST'],
    url: '/graphql',
    handler: (request, reply) => {
      void reply.headers(gatewayFlags.statusHeaders());
      return limiter.track(() => handleGraphQL(request, reply));
    },
  });
  // coherenceEvents over graphql-ws on the same server and path (upgrade requests); see docs/adr/0004.
  const subscriptions = attachCoherenceSubscriptions(app, {
    logger,
    metrics,
    apiSchema,
    connectSteps: pipelines.connect,
    subscribeSteps: pipelines.subscribe,
    origins,
    config,
  });
  /** A tenant changed: it is read again at once, not after the TTL, and its cached answers are dropped. */
  function forgetTenant(tenantId: string): void {
    tenants.forget(tenantId);
    clients.forgetTenant(tenantId);
    void readCache.forgetTenant(tenantId);
    // Its live subscriptions were admitted before: a suspension ends them (new ones are refused by the policy).
    tenants.recordsOf([tenantId]).then(
      (records) => {
        if (records.get(tenantId)?.suspended) subscriptions.endSubscriptionsOf(tenantId);
      },
      (error: unknown) => logger.warn({ err: error, tenantId }, 'could not read a changed tenant; its live subscriptions go on'),
    );
  }
  // TenantChanged from the tenant-admin API, whichever gateway ran the change.
  const tenantChanges = listenForTenantChanges({
    pool,
    logger,
    onChange: forgetTenant,
    onResync: () => {
      tenants.forgetAll();
      clients.forgetAll();
    },
  });

  return {
    /** `/graphql`, the subscriptions and `/healthz`: the public listener (GATEWAY_PORT). */
    app,
    /** `/healthz`, `/readyz`, `/metrics` (GATEWAY_ADMIN_PORT). */
    admin: admin.app,
    /** Writes the queued policy decisions now (tests, benchmarks). */
    flushDecisions: () => audit.decisions.flush(),
    /** Writes the queued security events now (tests). */
    flushSecurityEvents: () => audit.securityEvents.flush(),
    /** Re-reads the manifest and the policy bundle, as SIGHUP does. */
    reload: () => reloads.reloadAll(),
    async close() {
      admin.markDraining();
      await reloads.close();
      await app.close();
      await executor.stop();
      gatewayFlags.close();
      await readCache.close();
      limiter.close();
      await gatewayRedis.close();
      // After the server has drained: no request can add a decision or an event any more.
      await audit.close();
      await tenantChanges.close();
      await pool.end();
      await admin.app.close();
    },
  };
}
