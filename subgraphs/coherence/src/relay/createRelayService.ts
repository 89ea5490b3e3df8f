import { createAdminApp, createPgPool, type Logger } from '@coherence/platform';
import { Redis } from 'ioredis';
import type { RelayConfig } from '../config';
import { createChangePublisher } from '../events/createChangePublisher';
import { createNeo4jDriver, ensureGraphSchema } from '../graph/signalGraph';
import { createOutboxRelay } from './createOutboxRelay';
import { createProgressWatch } from './createProgressWatch';
import { createRelayMetrics } from './createRelayMetrics';

/** Wires the relay process: the outbox loop, `CoherenceChanged` publishing, and its admin listener (health, metrics); it serves no API. */
export async function createRelayService(config: RelayConfig, logger: Logger) {
  const pool = createPgPool(config.RELAY_DATABASE_URL, { onIdleError: (err) => logger.warn({ err }, 'idle postgres client failed') });
  const driver = createNeo4jDriver(
    config.NEO4J_URL,
    config.NEO4J_USER && config.NEO4J_PASSWORD ? { user: config.NEO4J_USER, password: config.NEO4J_PASSWORD } : undefined,
  );
  await ensureGraphSchema(driver);
  // Fail fast on a wrong URL rather than queueing publishes forever.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
  redis.on('error', (err) => logger.warn({ err }, 'redis connection error'));
  // A Redis that is down must not keep the relay from projecting (a restart during the outage would crash-loop):
  // ioredis goes on reconnecting, and changes it could not publish are published by the sweep once Redis is back.
  await redis.connect().catch((err: unknown) => logger.warn({ err }, 'redis unavailable at start; CoherenceChanged waits for it'));
  const progress = createProgressWatch({ pool, stallSeconds: config.RELAY_STALL_SECONDS });
  const admin = createAdminApp({
    logger,
    readinessChecks: [
      { name: 'postgres', check: async () => void (await pool.query('SELECT 1')) },
      { name: 'neo4j', check: async () => void (await driver.verifyConnectivity()) },
      { name: 'redis', check: async () => void (await redis.ping()) },
      {
        // Dependencies that answer do not make a relay that moves: see createProgressWatch.
        name: 'progress',
        check: async () => {
          if (await progress.isStalled()) {
            throw new Error(
              `no outbox event projected or quarantined for ${Math.round(progress.secondsSinceProgress())} s while events wait (npm run outbox -- list)`,
            );
          }
        },
      },
    ],
  });
  const relay = createOutboxRelay({
    pool,
    driver,
    logger,
    batchSize: config.RELAY_BATCH_SIZE,
    graphChunkSize: config.RELAY_GRAPH_CHUNK_SIZE,
    idlePollMs: config.RELAY_IDLE_POLL_MS,
    republishAfterMs: config.RELAY_REPUBLISH_AFTER_MS,
    maxAttempts: config.RELAY_MAX_ATTEMPTS,
    retryBaseMs: config.RELAY_RETRY_BASE_MS,
    retryMaxMs: config.RELAY_RETRY_MAX_MS,
    progress,
    windowHours: config.COHERENCE_WINDOW_HOURS,
    publishChanged: createChangePublisher(redis, config.COHERENCE_CHANGED_CHANNEL),
    metrics: createRelayMetrics(admin.metrics, pool, progress),
  });
  return {
    /** `/healthz`, `/readyz`, `/metrics` (RELAY_ADMIN_PORT). */
    admin: admin.app,
    relay,
    async close() {
      admin.markDraining();
      await relay.stop();
      await driver.close();
      redis.disconnect();
      await pool.end();
      await admin.app.close();
    },
  };
}
