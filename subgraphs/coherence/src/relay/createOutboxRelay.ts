import {
  createCoherenceChangedMessage,
  outboxEventSchema,
  validate,
  type AcceptedSignal,
  type CoherenceChangedMessage,
  type CoherenceStatus,
  type OutboxEvent,
} from '@coherence/contracts';
import { inTransaction, type Logger, type PgPool } from '@coherence/platform';
import type { Driver } from 'neo4j-driver';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangePublisher } from '../events/createChangePublisher';
import { aggregateWindow, projectSignals } from '../graph/signalGraph';
import { computeCoherence } from '../modules/coherence/computeCoherence';
import { upsertCoherenceScore } from '../modules/coherence/readModel';
import { markPublished, publishPendingChanges, recordChange } from './changeNotifications';
import type { RelayMetrics } from './createRelayMetrics';

export interface OutboxRelayOptions {
  /** Connects as coherence_relay, the one role that reads every tenant's outbox. */
  pool: PgPool;
  driver: Driver;
  logger: Logger;
  /** Outbox events claimed per transaction. Default 200. */
  batchSize?: number;
  /** Signals per Neo4j write; bounds one graph transaction whatever the batch holds. Default 2_000. */
  graphChunkSize?: number;
  /** Pause when the outbox is empty. Default 100 ms. */
  idlePollMs?: number;
  windowHours: number;
  /**
   * Receives `CoherenceChanged` for tenants whose score or status changed, after commit. None: changes are
   * recorded in the score history but not published (a relay with a publisher sweeps them later).
   */
  publishChanged?: ChangePublisher;
  /** Unpublished changes older than this are published by the sweep (a relay died before publishing). Default 10 s. */
  republishAfterMs?: number;
  metrics?: RelayMetrics;
  now?: () => Date;
}

export interface BatchResult {
  events: number;
  signals: number;
  tenants: { tenantId: string; status: CoherenceStatus; changed: boolean }[];
}

interface ClaimedRow {
  id: string;
  envelope: unknown;
  age_seconds: number;
}

/**
 * Drains the transactional outbox into the graph and the read model.
 *
 * One batch is one Postgres transaction: claim pending events (SKIP LOCKED,
 * so relays can run side by side), MERGE their signals into Neo4j, recompute
 * each touched tenant's score from the graph, upsert the read model, and mark
 * the events processed. A crash anywhere before COMMIT leaves the events
 * pending, and replaying them is harmless because the graph writes are MERGEs
 * and the score is recomputed from the graph: at-least-once delivery with an
 * exactly-once effect.
 *
 * `CoherenceChanged` goes out only after COMMIT, and only for tenants whose
 * score or status differs from the stored one. The change is recorded in the
 * score history in the same transaction, so a crash between COMMIT and
 * publish delays the notification until the next sweep instead of losing it
 * (changeNotifications.ts, docs/adr/0004).
 */
export function createOutboxRelay(options: OutboxRelayOptions) {
  const batchSize = options.batchSize ?? 200;
  const graphChunkSize = options.graphChunkSize ?? 2_000;
  const idlePollMs = options.idlePollMs ?? 100;
  const republishAfterMs = options.republishAfterMs ?? 10_000;
  const now = options.now ?? (() => new Date());
  const windowMs = options.windowHours * 3_600_000;
  const windowIso = `PT${options.windowHours}H`;
  const log = options.logger;

  async function drainBatch(): Promise<BatchResult> {
    const changes: { message: CoherenceChangedMessage; historyId: string }[] = [];
    let eventAgesSeconds: number[] = [];
    const result = await inTransaction(options.pool, async (client): Promise<BatchResult> => {
      const { rows } = await client.query<ClaimedRow>(
        `SELECT id, envelope, EXTRACT(EPOCH FROM now() - created_at)::float8 AS age_seconds
           FROM outbox WHERE processed_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batchSize],
      );
      if (rows.length === 0) return { events: 0, signals: 0, tenants: [] };
      eventAgesSeconds = rows.map((row) => row.age_seconds);

      const signals: AcceptedSignal[] = [];
      // The first event per tenant is what the change notification continues (trace, correlation).
      const causeByTenant = new Map<string, OutboxEvent>();
      for (const row of rows) {
        const parsed = validate(outboxEventSchema, row.envelope);
        if (parsed.ok) {
          signals.push(...parsed.value.payload.signals);
          if (!causeByTenant.has(parsed.value.tenantId)) causeByTenant.set(parsed.value.tenantId, parsed.value);
        } else {
          log.error({ outbox_id: row.id, issues: parsed.issues }, 'outbox event does not match its contract; skipped');
          await client.query('UPDATE outbox SET relay_error = $2 WHERE id = $1', [row.id, JSON.stringify(parsed.issues)]);
        }
      }
      for (let i = 0; i < signals.length; i += graphChunkSize) {
        await projectSignals(options.driver, signals.slice(i, i + graphChunkSize));
      }

      const asOf = now();
      const tenants: BatchResult['tenants'] = [];
      for (const [tenantId, cause] of causeByTenant) {
        const coherence = computeCoherence(await aggregateWindow(options.driver, tenantId, asOf, windowMs));
        const { previous, updatedAt } = await upsertCoherenceScore(client, tenantId, coherence, windowIso, asOf);
        const changed = previous?.score !== coherence.score || previous?.status !== coherence.status;
        tenants.push({ tenantId, status: coherence.status, changed });
        if (!changed) continue;
        const message = createCoherenceChangedMessage({
          // changedAt is replaced by the commit time below: subscribers measure fan-out latency from it.
          change: { tenantId, previous, current: { tenantId, ...coherence, window: windowIso, updatedAt }, changedAt: updatedAt },
          timestamp: updatedAt,
          correlationId: cause.correlationId,
          causationId: cause.messageId,
          ...(cause.traceparent ? { traceparent: cause.traceparent } : {}),
        });
        changes.push({ message, historyId: await recordChange(client, message) });
      }
      await client.query('UPDATE outbox SET processed_at = now() WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
      return { events: rows.length, signals: signals.length, tenants };
    });

    const committedAt = now().toISOString();
    for (const { message } of changes) message.payload.changedAt = committedAt;
    let published = 0;
    if (options.publishChanged && changes.length > 0) {
      try {
        await options.publishChanged(changes.map((change) => change.message));
        published = changes.length;
        await markPublished(
          options.pool,
          changes.map((change) => change.historyId),
        );
      } catch (error) {
        // The changes stay unpublished in the score history; the sweep sends them once Redis is back.
        log.error({ err: error, tenants: changes.map((c) => c.message.tenantId) }, 'publishing CoherenceChanged failed');
      }
    }
    options.metrics?.recordBatch({ events: result.events, signals: result.signals, eventAgesSeconds, published });
    return result;
  }

  /** Publishes what a relay recorded but did not get to publish (crash, Redis down). */
  async function publishPending(minAgeMs = republishAfterMs) {
    if (!options.publishChanged) return { published: 0, superseded: 0 };
    const result = await publishPendingChanges(options.pool, options.publishChanged, { minAgeMs });
    if (result.published + result.superseded > 0) log.warn(result, 'published CoherenceChanged left over by an earlier pass');
    return result;
  }

  let running: Promise<void> | undefined;
  let stopping = false;

  async function loop(): Promise<void> {
    let lastSweep = 0;
    while (!stopping) {
      try {
        // At start, then every republishAfterMs: leftovers are rare and never urgent.
        if (Date.now() - lastSweep >= republishAfterMs) {
          lastSweep = Date.now();
          await publishPending().catch((error: unknown) => log.error({ err: error }, 'publishing left-over CoherenceChanged failed'));
        }
        const result = await drainBatch();
        if (result.events === 0) {
          await sleep(idlePollMs);
          continue;
        }
        for (const tenant of result.tenants)
          log.debug({ tenant_id: tenant.tenantId, status: tenant.status, changed: tenant.changed }, 'score recomputed');
        log.info({ events: result.events, signals: result.signals, tenants: result.tenants.length }, 'outbox batch projected');
      } catch (error) {
        // Nothing was committed; the same events are claimed again next time.
        log.error({ err: error }, 'outbox batch failed; retrying');
        await sleep(Math.max(idlePollMs, 1_000));
      }
    }
  }

  return {
    drainBatch,
    publishPending,
    /** Drains until nothing is pending (for tests and one-shot runs). */
    async drainAll(): Promise<number> {
      let events = 0;
      for (let result = await drainBatch(); result.events > 0; result = await drainBatch()) events += result.events;
      return events;
    },
    start(): void {
      stopping = false;
      running ??= loop().finally(() => {
        running = undefined;
      });
    },
    /** Lets the batch in flight commit, then stops. */
    async stop(): Promise<void> {
      stopping = true;
      await running;
    },
  };
}

export type OutboxRelay = ReturnType<typeof createOutboxRelay>;
