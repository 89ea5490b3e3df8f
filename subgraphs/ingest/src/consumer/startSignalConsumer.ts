import { SCOPES } from '@coherence/auth';
import {
  createSignalSchema,
  extractTraceContext,
  formatTraceparent,
  type Provenance,
  type Signal,
  type ValidationIssue,
} from '@coherence/contracts';
import type { Logger, PgPool } from '@coherence/platform';
import type { PolicyVerdict } from '@coherence/policy';
import type { Kafka, KafkaMessage, Message } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { KAFKA_CONSUMER_SUBJECT, type WritePolicy, type WriteRequest } from '../modules/policy/createWritePolicy';
import { readOutboxBacklog } from '../modules/signals/readOutboxBacklog';
import { storeSignals } from '../modules/signals/storeSignals';
import type { IngestMetrics } from '../modules/telemetry/createIngestMetrics';
import { classifyStoreError, describeStoreError } from './classifyStoreError';
import { createStallWatch, type ConsumerProgress } from './createStallWatch';
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
  /** Decides each tenant's records of a slice; denied ones are dead-lettered with the reason code. */
  writePolicy: WritePolicy;
  backlog: { pauseAbove: number; resumeBelow: number; pollMs: number };
  /** Records pending and none committed for this long is a stall (see {@link createStallWatch}). */
  stallSeconds: number;
  /** Most records stored in one Postgres transaction (offsets are committed after each). Default 500. */
  recordsPerTransaction?: number;
  /** Wait before retrying a store that failed for a transient or unknown reason: doubles from `initialMs` to `maxMs`. Default 250 → 5_000. */
  retryBackoff?: { initialMs: number; maxMs: number };
}

export interface RunningSignalConsumer {
  /** Joined its group and not crashed. */
  isReady(): boolean;
  /** Fetching is paused because the outbox backlog is over its bound. */
  isPaused(): boolean;
  /** Whether records wait and none has been committed for `stallSeconds`; never stalled while paused for the backlog. */
  progress(): ConsumerProgress;
  /** Lets the batch in progress finish its transaction and commit, then leaves the group. */
  stop(): Promise<void>;
}

/**
 * The `dlq-reason` of a valid record that Postgres refused to store
 * (STORE_FAILED) or the write policy denied (TENANT_UNKNOWN,
 * RESIDENCY_VIOLATION, …), in the shape of the validation reasons.
 */
interface RefusedRecordReason {
  code: string;
  issues: ValidationIssue[];
}

/** What retrying an action came to: done, refused for the records' own fault, or given up because the consumer must leave. */
type Attempt<T> = { outcome: 'done'; value: T } | { outcome: 'refused'; error: unknown } | { outcome: 'left' };

/**
 * Consumes signals from Kafka into the same ledger + outbox transaction as
 * HTTP. At-least-once with dedupe: a slice of a batch is stored in one
 * transaction and only then are its offsets committed, so a crash in between
 * replays records the ledger already has (they count as deduped). Invalid
 * records, and records of a tenant the write policy denies (not registered,
 * or residing in another region: one decision per tenant and slice), go to
 * the dead-letter topic before their offsets are committed, so none is lost
 * and none blocks its partition.
 *
 * A failed store is classified ({@link classifyStoreError}). When Postgres
 * refuses the data, the slice is stored again record by record and each
 * record it still refuses is dead-lettered as `STORE_FAILED`, so one record
 * never holds up the rest. When the database is unavailable (or the error is
 * unknown) the same records are retried with backoff, heartbeating meanwhile,
 * and nothing is skipped.
 */
export async function startSignalConsumer(options: SignalConsumerOptions): Promise<RunningSignalConsumer> {
  const { kafka, logger, metrics, topic, dlqTopic } = options;
  const recordsPerTransaction = options.recordsPerTransaction ?? 500;
  const backoff = options.retryBackoff ?? { initialMs: 250, maxMs: 5_000 };
  const signalSchema = createSignalSchema();
  const stallWatch = createStallWatch({ stallSeconds: options.stallSeconds });

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
    stallWatch.forgetPartitions();
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
      metrics.consumerPaused.set(1);
      logger.warn({ backlog, pauseAbove: options.backlog.pauseAbove }, 'outbox backlog over its bound; paused fetching');
    } else if (paused && backlog < options.backlog.resumeBelow) {
      consumer.resume([{ topic }]);
      paused = false;
      metrics.consumerPaused.set(0);
      // Back-pressure is the relay's delay, not the consumer's stall: the clock restarts now.
      stallWatch.noteProgress();
      logger.info({ backlog, resumeBelow: options.backlog.resumeBelow }, 'outbox backlog drained; resumed fetching');
    }
  };
  const progress = (): ConsumerProgress => {
    const current = stallWatch.progress();
    return paused ? { ...current, stalled: false } : current;
  };
  let reportedStalled = false;
  const reportStall = () => {
    const current = progress();
    metrics.consumerStalled.set(current.stalled ? 1 : 0);
    if (current.stalled === reportedStalled) return;
    reportedStalled = current.stalled;
    if (current.stalled) logger.error(current, 'consumer stalled: records pending and none committed');
    else logger.info(current, 'consumer committing again');
  };

  /** Sent with acks from every replica, before the offsets are committed; counted by reason code. */
  const deadLetter = async (records: { message: Message; code: string }[], partition: number) => {
    await producer.send({ topic: dlqTopic, acks: -1, messages: records.map((r) => r.message) });
    for (const { code } of records) metrics.deadLettered.inc({ code });
    logger.warn({ count: records.length, partition }, 'records sent to the dead-letter topic');
  };
  /** One transaction for `signals`, continuing the trace of `traced` (producers may set `traceparent`). */
  const store = async (signals: Signal[], traced: KafkaMessage) => {
    const endTimer = metrics.storeDuration.startTimer({ transport: 'kafka' });
    const trace = extractTraceContext(stringHeaders(traced));
    const stored = await storeSignals(options.pool, signals, {
      defaultProvenance: options.defaultProvenance,
      correlationId: trace.requestId,
      traceparent: formatTraceparent(trace.traceparent),
    });
    endTimer();
    metrics.processed.inc({ transport: 'kafka' }, signals.length);
    for (const [tenant, count] of countByTenant(signals)) metrics.tenantSignals.inc({ tenant }, count);
    metrics.deduped.inc({ transport: 'kafka' }, stored.deduped);
  };

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: options.partitions,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, uncommittedOffsets, isRunning, isStale }) => {
      const { partition } = batch;
      const lagAfter = (offset: string) => Math.max(0, Number(batch.highWatermark) - Number(offset) - 1);
      const noteLag = (lag: number) => {
        metrics.consumerLag.set({ topic: batch.topic, partition: String(partition) }, lag);
        stallWatch.noteLag(batch.topic, partition, lag);
      };
      // Unresolved records are fetched again after a resume or a rebalance, or by the next owner after a stop.
      const mustLeave = () => paused || !isRunning() || isStale();
      /** Stored or dead-lettered up to `offset`: only now may Kafka forget these records. */
      const commitThrough = async (offset: string) => {
        resolveOffset(offset);
        await commitOffsetsIfNecessary(uncommittedOffsets());
        noteLag(lagAfter(offset));
        stallWatch.noteProgress();
      };
      /** False when the consumer must leave the batch instead; heartbeats at least every second meanwhile. */
      const waitUnlessLeaving = async (delayMs: number) => {
        const until = Date.now() + delayMs;
        for (let left = delayMs; left > 0 && !mustLeave(); left = until - Date.now()) {
          await heartbeat();
          await sleep(Math.min(1_000, left));
        }
        return !mustLeave();
      };
      /** Runs `action` (a store, or a read of tenants' rows), retrying failures that are not the records' fault until done or leaving. */
      const retrying = async <T>(action: () => Promise<T>, records: number): Promise<Attempt<T>> => {
        for (let attempt = 0; ; attempt += 1) {
          try {
            return { outcome: 'done', value: await action() };
          } catch (error) {
            const kind = classifyStoreError(error);
            if (kind === 'record') return { outcome: 'refused', error };
            const delayMs = Math.min(backoff.maxMs, backoff.initialMs * 2 ** attempt);
            metrics.storeRetries.inc({ kind });
            const context = { err: error, partition, records, attempt, delayMs };
            if (kind === 'transient') logger.warn(context, 'database unavailable; retrying the same records');
            else logger.error(context, 'store failed for an unclassified reason; retrying the same records');
            if (!(await waitUnlessLeaving(delayMs))) return { outcome: 'left' };
          }
        }
      };
      const storeRetrying = (signals: Signal[], traced: KafkaMessage) => retrying(() => store(signals, traced), signals.length);
      /**
       * The write policy's verdict for each tenant among `records`, decided
       * once per slice (the decision carries the correlation id of the
       * tenant's first record); undefined when the consumer must leave.
       */
      const decideTenants = async (records: { message: KafkaMessage; signal: Signal }[]) => {
        const firstOfTenant = new Map<string, KafkaMessage>();
        for (const { message, signal } of records) if (!firstOfTenant.has(signal.tenantId)) firstOfTenant.set(signal.tenantId, message);
        const requests: WriteRequest[] = [...firstOfTenant].map(([tenantId, message]) => ({
          transport: 'kafka',
          principal: { subject: KAFKA_CONSUMER_SUBJECT, tenantId, scopes: [SCOPES.writeSelf], residency: [options.writePolicy.region] },
          clientId: null,
          tenantId,
          operationId: `kafka:${batch.topic}`,
          correlationId: extractTraceContext(stringHeaders(message)).requestId,
        }));
        const decided = await retrying(() => options.writePolicy.decide(requests), records.length);
        if (decided.outcome === 'left') return undefined;
        // Reading validated tenant ids cannot be refused for their data; kafkajs retries the batch.
        if (decided.outcome === 'refused') throw decided.error;
        return new Map<string, PolicyVerdict>(requests.map((request, i) => [request.tenantId, decided.value[i]!]));
      };

      const first = batch.messages[0];
      if (first) noteLag(lagAfter(first.offset) + 1);
      for (let start = 0; start < batch.messages.length; start += recordsPerTransaction) {
        if (mustLeave()) return;
        const slice = batch.messages.slice(start, start + recordsPerTransaction);
        const decoded = slice.map((message) => ({ message, record: decodeSignalRecord(signalSchema, message) }));
        const verdicts = await decideTenants(
          decoded.flatMap(({ message, record }) => (record.ok ? [{ message, signal: record.signal }] : [])),
        );
        if (!verdicts) return;
        const valid: { message: KafkaMessage; signal: Signal }[] = [];
        const refused: { message: Message; code: string }[] = [];
        const refuse = (message: KafkaMessage, reason: RefusedRecordReason) =>
          refused.push({ message: deadLetterOf(message, reason, batch.topic, partition), code: reason.code });
        for (const { message, record } of decoded) {
          if (!record.ok) {
            refuse(message, record.reason);
            continue;
          }
          const verdict = verdicts.get(record.signal.tenantId)!;
          if (verdict.allow) valid.push({ message, signal: record.signal });
          else refuse(message, deniedReason(verdict));
        }
        if (refused.length > 0) await deadLetter(refused, partition);
        if (valid.length > 0) {
          // A slice is one transaction and one outbox event per tenant, so it continues the trace of its first record.
          const stored = await storeRetrying(
            valid.map((v) => v.signal),
            slice[0]!,
          );
          if (stored.outcome === 'left') return;
          if (stored.outcome === 'refused') {
            logger.warn(
              { partition, records: valid.length, error: describeStoreError(stored.error) },
              'Postgres refused a slice; storing its records one by one',
            );
            for (const { message, signal } of valid) {
              const single = await storeRetrying([signal], message);
              if (single.outcome === 'left') return;
              if (single.outcome === 'refused') {
                const reason: RefusedRecordReason = {
                  code: 'STORE_FAILED',
                  issues: [{ path: '', rule: 'store_failed', message: describeStoreError(single.error) }],
                };
                await deadLetter([{ message: deadLetterOf(message, reason, batch.topic, partition), code: reason.code }], partition);
              }
              await commitThrough(message.offset);
            }
          }
        }
        await commitThrough(slice.at(-1)!.offset);
        await heartbeat();
      }
    },
  });

  // Only once `run` has set up the group: kafkajs refuses pause() before that.
  const watchTimer = setInterval(() => {
    reportStall();
    checkBacklog().catch((error: unknown) => logger.warn({ err: error }, 'could not read the outbox backlog'));
  }, options.backlog.pollMs);

  return {
    isReady: () => joined && !crashed,
    isPaused: () => paused,
    progress,
    async stop() {
      clearInterval(watchTimer);
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}

/** The `dlq-reason` of a record the write policy denied: the reason code, and the policy's explanation as its issue. */
function deniedReason(verdict: PolicyVerdict): RefusedRecordReason {
  return { code: verdict.reasonCode, issues: [{ path: 'tenantId', rule: verdict.reasonCode.toLowerCase(), message: verdict.explanation }] };
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

function countByTenant(signals: readonly Signal[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { tenantId } of signals) counts.set(tenantId, (counts.get(tenantId) ?? 0) + 1);
  return counts;
}
