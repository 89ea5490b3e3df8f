import { createSignalSchema, extractTraceContext, formatTraceparent, type Provenance, type Signal } from '@coherence/contracts';
import type { Logger, PgPool } from '@coherence/platform';
import type { Kafka, KafkaMessage, Message } from 'kafkajs';
import { readOutboxBacklog } from '../modules/signals/readOutboxBacklog';
import { storeSignals } from '../modules/signals/storeSignals';
import type { IngestMetrics } from '../modules/telemetry/createIngestMetrics';
import { decodeSignalRecord } from './decodeSignalRecord';

export interface SignalConsumerOptions {
  kafka: Kafka;
  pool: PgPool;
  logger: Logger;
  metrics: IngestMetrics;
  topic: string;
  dlqTopic: string;
  groupId: string;
  sessionTimeoutMs: number;
  /** Used only when the consumer has to create the topics. */
  partitions: number;
  defaultProvenance: Provenance;
  backlog: { pauseAbove: number; resumeBelow: number; pollMs: number };
  /** Most records stored in one Postgres transaction (offsets are committed after each). Default 500. */
  recordsPerTransaction?: number;
}

export interface RunningSignalConsumer {
  /** Joined its group and not crashed. */
  isReady(): boolean;
  /** Fetching is paused because the outbox backlog is over its bound. */
  isPaused(): boolean;
  /** Lets the batch in progress finish its transaction and commit, then leaves the group. */
  stop(): Promise<void>;
}

/**
 * Consumes signals from Kafka into the same ledger + outbox transaction as
 * HTTP. At-least-once with dedupe: a slice of a batch is stored in one
 * transaction and only then are its offsets committed, so a crash in between
 * replays records the ledger already has (they count as deduped). Invalid
 * records go to the dead-letter topic before their offsets are committed, so
 * none is lost and none blocks its partition.
 */
export async function startSignalConsumer(options: SignalConsumerOptions): Promise<RunningSignalConsumer> {
  const { kafka, logger, topic, dlqTopic } = options;
  const recordsPerTransaction = options.recordsPerTransaction ?? 500;
  const signalSchema = createSignalSchema();

  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [topic, dlqTopic].map((name) => ({ topic: name, numPartitions: options.partitions })),
    });
  } finally {
    await admin.disconnect();
  }

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.min(3_000, Math.floor(options.sessionTimeoutMs / 3)),
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5_000 },
  });
  let joined = false;
  let crashed = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    logger.error({ err: payload.error, restart: payload.restart }, 'kafka consumer crashed');
    if (!payload.restart) crashed = true;
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });

  let paused = false;
  const checkBacklog = async () => {
    const backlog = await readOutboxBacklog(options.pool);
    if (!paused && backlog > options.backlog.pauseAbove) {
      consumer.pause([{ topic }]);
      paused = true;
      logger.warn({ backlog, pauseAbove: options.backlog.pauseAbove }, 'outbox backlog over its bound; paused fetching');
    } else if (paused && backlog < options.backlog.resumeBelow) {
      consumer.resume([{ topic }]);
      paused = false;
      logger.info({ backlog, resumeBelow: options.backlog.resumeBelow }, 'outbox backlog drained; resumed fetching');
    }
  };
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: options.partitions,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, uncommittedOffsets, isRunning, isStale }) => {
      for (let start = 0; start < batch.messages.length; start += recordsPerTransaction) {
        // Unresolved records are fetched again after a resume or a rebalance.
        if (paused || !isRunning() || isStale()) return;
        const slice = batch.messages.slice(start, start + recordsPerTransaction);
        const signals: Signal[] = [];
        const deadLetters: Message[] = [];
        for (const message of slice) {
          const decoded = decodeSignalRecord(signalSchema, message);
          if (decoded.ok) signals.push(decoded.signal);
          else deadLetters.push(deadLetterOf(message, decoded.reason, batch.topic, batch.partition));
        }
        if (deadLetters.length > 0) {
          await producer.send({ topic: dlqTopic, acks: -1, messages: deadLetters });
          options.metrics.deadLettered.inc(deadLetters.length);
          logger.warn({ count: deadLetters.length, partition: batch.partition }, 'records sent to the dead-letter topic');
        }
        if (signals.length > 0) {
          const endTimer = options.metrics.storeDuration.startTimer({ transport: 'kafka' });
          // A slice is one transaction and one outbox event per tenant, so it
          // continues the trace of its first record (producers may set `traceparent`).
          const trace = extractTraceContext(stringHeaders(slice[0]!));
          const stored = await storeSignals(options.pool, signals, {
            defaultProvenance: options.defaultProvenance,
            correlationId: trace.requestId,
            traceparent: formatTraceparent(trace.traceparent),
          });
          endTimer();
          options.metrics.processed.inc({ transport: 'kafka' }, signals.length);
          options.metrics.deduped.inc({ transport: 'kafka' }, stored.deduped);
        }
        // The transaction has committed: only now may Kafka forget these records.
        const lastOffset = slice.at(-1)!.offset;
        resolveOffset(lastOffset);
        await commitOffsetsIfNecessary(uncommittedOffsets());
        options.metrics.consumerLag.set(
          { topic: batch.topic, partition: String(batch.partition) },
          Math.max(0, Number(batch.highWatermark) - Number(lastOffset) - 1),
        );
        await heartbeat();
      }
    },
  });

  // Only once `run` has set up the group: kafkajs refuses pause() before that.
  const backlogTimer = setInterval(() => {
    checkBacklog().catch((error: unknown) => logger.warn({ err: error }, 'could not read the outbox backlog'));
  }, options.backlog.pollMs);

  return {
    isReady: () => joined && !crashed,
    isPaused: () => paused,
    async stop() {
      clearInterval(backlogTimer);
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}

/** The original bytes, key and headers, plus why and where from. */
function deadLetterOf(message: KafkaMessage, reason: unknown, topic: string, partition: number): Message {
  return {
    key: message.key,
    value: message.value,
    headers: {
      ...message.headers,
      'dlq-reason': JSON.stringify(reason),
      'dlq-source': `${topic}/${partition}/${message.offset}`,
    },
  };
}

function stringHeaders(message: KafkaMessage): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(message.headers ?? {}).map(([name, value]) => [
      name.toLowerCase(),
      Array.isArray(value) ? value[0]?.toString() : value?.toString(),
    ]),
  );
}
