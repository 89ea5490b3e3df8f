import { createAdminApp, createPgPool, type Logger } from '@coherence/platform';
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { IngestConsumerConfig } from '../config';
import { defaultProvenanceOf } from '../defaultProvenance';
import { createWritePolicy } from '../modules/policy/createWritePolicy';
import { readOutboxBacklog, readOutboxLagSeconds } from '../modules/signals/readOutboxBacklog';
import { createIngestMetrics } from '../modules/telemetry/createIngestMetrics';
import { writePolicyOptionsOf } from '../writePolicyOptions';
import { startSignalConsumer } from './startSignalConsumer';

/**
 * The ingest Kafka consumer process: the consumer loop plus, on its admin
 * listener (its only one), `/healthz`, `/readyz` (Postgres answers, the consumer joined its group and is not
 * stalled: records pending and none committed for
 * `INGEST_CONSUMER_STALL_SECONDS`; a pause for the outbox backlog is
 * back-pressure, not a stall) and `/metrics`.
 * `close()` drains: it stops fetching, lets the slice in progress commit its
 * transaction and offsets, writes the queued policy decisions, then closes
 * Kafka and Postgres.
 */
export async function createConsumerService(config: IngestConsumerConfig, logger: Logger) {
  const pool = createPgPool(config.INGEST_DATABASE_URL, { onIdleError: (err) => logger.warn({ err }, 'idle postgres client failed') });
  const kafka = new Kafka({
    clientId: 'coherence-ingest-consumer',
    brokers: [...config.KAFKA_BROKERS],
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => logger.warn({ kafka: entry.log, namespace: entry.namespace }, entry.log.message),
  });
  const admin = createAdminApp({
    logger,
    readinessChecks: [
      { name: 'postgres', check: async () => void (await pool.query('SELECT 1')) },
      {
        name: 'kafka',
        check: async () => {
          // Asked only once the process listens, after `consumer` below exists.
          if (!consumer.isReady()) throw new Error('the consumer has not joined its group');
        },
      },
      {
        name: 'progress',
        check: async () => {
          const { stalled, secondsWithoutProgress, pendingRecords } = consumer.progress();
          if (stalled) {
            throw new Error(
              `no record committed for ${Math.round(secondsWithoutProgress)} s with ${pendingRecords} pending ` +
                `(INGEST_CONSUMER_STALL_SECONDS=${config.INGEST_CONSUMER_STALL_SECONDS})`,
            );
          }
        },
      },
    ],
  });
  const ingestMetrics = createIngestMetrics(admin.metrics, {
    readBacklog: () => readOutboxBacklog(pool),
    readOutboxLag: () => readOutboxLagSeconds(pool),
  });
  const writePolicy = await createWritePolicy({ ...writePolicyOptionsOf(config), pool, logger, metrics: ingestMetrics });
  const consumer = await startSignalConsumer({
    kafka,
    pool,
    logger,
    metrics: ingestMetrics,
    topic: config.INGEST_SIGNALS_TOPIC,
    dlqTopic: config.INGEST_SIGNALS_DLQ_TOPIC,
    groupId: config.INGEST_CONSUMER_GROUP,
    sessionTimeoutMs: config.INGEST_CONSUMER_SESSION_TIMEOUT_MS,
    partitions: config.INGEST_TOPIC_PARTITIONS,
    defaultProvenance: defaultProvenanceOf(config),
    writePolicy,
    backlog: {
      pauseAbove: config.INGEST_BACKLOG_PAUSE_ABOVE,
      resumeBelow: config.INGEST_BACKLOG_RESUME_BELOW,
      pollMs: config.INGEST_BACKLOG_POLL_MS,
    },
    stallSeconds: config.INGEST_CONSUMER_STALL_SECONDS,
  });
  return {
    /** `/healthz`, `/readyz`, `/metrics` (INGEST_CONSUMER_ADMIN_PORT). */
    admin: admin.app,
    consumer,
    async close() {
      admin.markDraining();
      await consumer.stop();
      await writePolicy.close();
      await admin.app.close();
      await pool.end();
    },
  };
}
