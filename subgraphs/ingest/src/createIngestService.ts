import { acceptsUnknownClients } from '@coherence/policy';
import { createTokenVerifier, SCOPES } from '@coherence/auth';
import { createSecurityEventWriter, createServiceApp, createSubgraphService, type Logger } from '@coherence/platform';
import { createRefusalThrottle, createTenantRateLimiter } from '@coherence/ratelimit';
import { Redis } from 'ioredis';
import type { IngestConfig } from './config';
import { expireIdempotencyKeys } from './modules/idempotency/idempotencyStore';
import { createWritePolicy } from './modules/policy/createWritePolicy';
import { readOutboxBacklog, readOutboxLagSeconds } from './modules/signals/readOutboxBacklog';
import { createGroupCommit } from './modules/signals/groupCommit';
import { registerSignalsRoute } from './modules/signals/signalsRoute';
import { statsResolvers, type IngestContext } from './modules/stats/resolvers';
import { statsTypeDefs } from './modules/stats/schema.graphql';
import { createIngestMetrics } from './modules/telemetry/createIngestMetrics';
import { defaultProvenanceOf } from './defaultProvenance';
import { writePolicyOptionsOf } from './writePolicyOptions';

/** What a limiter call may wait for Redis: as the gateway's default, a paused Redis costs a batch this much at most. */
const REDIS_COMMAND_TIMEOUT_MS = 100;

/** Unwritten security events kept at most (about 1 KB each), as in the gateway: beyond it a flood is counted, not stored. */
const SECURITY_EVENT_QUEUE_MAX = 10_000;

/**
 * The ingest process: HTTP push (`POST /v1/signals`, for producers on the
 * internet) and, on a listener of its own, its subgraph (ingest stats, for
 * the gateway's signed calls). Two Fastify apps, as in comms: exposing the
 * producers' port must not expose the subgraph, nor let subgraph calls
 * compete with signal writes for the same listener. A third, the admin
 * listener, serves `/readyz` and `/metrics` for both.
 */
export async function createIngestService(config: IngestConfig, logger: Logger) {
  const verify = await createTokenVerifier({
    jwks: config.INGEST_JWKS,
    issuers: config.INGEST_TOKEN_ISSUERS,
    maxLifetimeSeconds: config.INGEST_TOKEN_MAX_LIFETIME_SECONDS,
  });
  // No offline queue, one retry and a short timeout: while Redis is away or
  // paused a limiter call fails fast (and the in-process fallback decides)
  // instead of hanging the request.
  const redis = new Redis(config.INGEST_REDIS_URL, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
  });
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection problem'));
  // A Redis that is down must not keep ingest from starting (a restart during the outage would crash-loop): ioredis
  // goes on reconnecting, and the limiter falls back until it is back (docs/runbooks/drills/redis-down.md).
  await redis
    .connect()
    .catch((error: unknown) => logger.warn({ err: error }, 'redis unavailable at start; the limiter falls back until it is back'));

  const service = await createSubgraphService<IngestContext>({
    name: 'ingest',
    config,
    logger,
    databaseUrl: config.INGEST_DATABASE_URL,
    typeDefs: statsTypeDefs,
    resolvers: statsResolvers,
    context: (base) => base,
    // Once the server has drained, no request can queue a decision or an event any more.
    onDrained: async () => {
      if (writePolicy !== 'off') await writePolicy.close();
      await securityEvents.close();
    },
  });
  const { admin } = service;
  const producers = createServiceApp({ logger, admin, bodyLimitBytes: config.INGEST_BODY_LIMIT_BYTES });
  const metrics = createIngestMetrics(admin.metrics, {
    readBacklog: () => readOutboxBacklog(service.pool),
    readOutboxLag: () => readOutboxLagSeconds(service.pool),
  });
  const writePolicy =
    config.INGEST_WRITE_POLICY === 'off'
      ? 'off'
      : await createWritePolicy({
          ...writePolicyOptionsOf(config),
          pool: service.pool,
          logger,
          metrics,
          clients: { acceptUnknown: acceptsUnknownClients(config.INGEST_ACCEPT_UNKNOWN_CLIENTS, config.NODE_ENV) },
        });
  const securityEvents = createSecurityEventWriter({
    pool: service.pool,
    logger,
    flushMs: config.INGEST_DECISION_FLUSH_MS,
    batchSize: config.INGEST_DECISION_BATCH_SIZE,
    maxPending: SECURITY_EVENT_QUEUE_MAX,
    onDropped: (count, reason) => metrics.securityEventsDropped.inc({ reason }, count),
  });
  if (writePolicy === 'off') logger.warn('INGEST_WRITE_POLICY=off: writes are not checked against the policy (benchmarks only)');
  registerSignalsRoute(producers.app, {
    pool: service.pool,
    storePush: createGroupCommit({
      pool: service.pool,
      windowMs: config.INGEST_GROUP_COMMIT_MS,
      maxPushes: config.INGEST_GROUP_COMMIT_MAX_PUSHES,
      metrics: { groupSize: metrics.groupCommitPushes, groupsSplit: metrics.groupCommitSplits },
    }),
    securityEvents,
    maxSignalsPerBatch: config.INGEST_MAX_SIGNALS_PER_BATCH,
    defaultProvenance: defaultProvenanceOf(config),
    verify,
    requiredScope: SCOPES.writeSelf,
    writePolicy,
    idempotencyTtlHours: config.INGEST_IDEMPOTENCY_TTL_HOURS,
    limiter: createTenantRateLimiter({
      redis,
      keyPrefix: 'ingest:rate:',
      ratePerSecond: () => config.INGEST_RATE_PER_SECOND,
      burst: () => config.INGEST_RATE_BURST,
      metrics: admin.metrics,
      onFallback: (error) => logger.warn({ err: error }, 'ingest limiter: redis failed; enforcing the shares in process until it answers'),
      onRecovered: () => logger.info('ingest limiter: redis answers again; shares enforced in redis'),
    }),
    refusalThrottle: createRefusalThrottle({
      refusalsPerSecond: config.INGEST_ADDRESS_REFUSALS_PER_SECOND,
      burst: config.INGEST_ADDRESS_REFUSAL_BURST,
    }),
    metrics,
  });
  // Every replica expires keys; deletes of the same rows simply find them gone.
  const expiryTimer = setInterval(() => {
    expireIdempotencyKeys(service.pool, config.INGEST_IDEMPOTENCY_TTL_HOURS).then(
      (deleted) => deleted > 0 && logger.info({ deleted }, 'expired idempotency keys'),
      (error: unknown) => logger.warn({ err: error }, 'could not expire idempotency keys'),
    );
  }, 60_000);
  expiryTimer.unref();
  return {
    /** `POST /v1/signals`, the only part meant for the internet (INGEST_PORT). */
    app: producers.app,
    pool: service.pool,
    /** `/graphql` for the gateway's signed calls only (INGEST_SUBGRAPH_PORT). */
    subgraph: service.app,
    /** Writes the refusals queued so far (tests read them right after a response). */
    flushSecurityEvents: () => securityEvents.flush(),
    /** `/healthz`, `/readyz`, `/metrics` (INGEST_ADMIN_PORT). */
    admin: admin.app,
    /** Stop both service listeners (in-flight requests finish), close the pool and the admin listener, then Redis. */
    async close() {
      clearInterval(expiryTimer);
      admin.markDraining();
      await producers.app.close();
      await service.close();
      redis.disconnect();
    },
  };
}
