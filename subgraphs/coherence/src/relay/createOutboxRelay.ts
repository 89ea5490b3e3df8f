import {
  outboxEventSchema,
  validate,
  type AcceptedSignal,
  type CoherenceChangedMessage,
  type CoherenceStatus,
  type OutboxEvent,
} from '@coherence/contracts';
import { inTransaction, type Logger, type PgClient, type PgPool } from '@coherence/platform';
import { contextOf, inSpan, SpanKind } from '@coherence/telemetry';
import type { Driver } from 'neo4j-driver';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangePublisher } from '../events/createChangePublisher';
import { projectSignals } from '../graph/signalGraph';
import { lockTenantScores } from '../modules/coherence/readModel';
import { recomputeScore } from '../modules/coherence/recomputeScore';
import { markPublished, publishPendingChanges } from './changeNotifications';
import type { ProgressWatch } from './createProgressWatch';
import type { RelayMetrics } from './createRelayMetrics';
import { isConnectionError } from './isConnectionError';
import { claimById, claimDueRetry, claimFresh, markProcessed, recordFailure, type ClaimedRow } from './outboxQueue';

export interface OutboxRelayOptions {
  /** Connects as relay_app, the one role that drains every tenant's outbox. */
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
  /** Failures of one event before it is quarantined. Default 5. */
  maxAttempts?: number;
  /** Wait after an event's first failure, doubled after each further one. Default 1_000 ms. */
  retryBaseMs?: number;
  /** Longest wait between two attempts of an event. Default 60_000 ms. */
  retryMaxMs?: number;
  metrics?: RelayMetrics;
  /** Told of every event projected or quarantined, for readiness (createProgressWatch). */
  progress?: ProgressWatch;
  now?: () => Date;
}

export interface BatchResult {
  /** Events projected (committed). */
  events: number;
  signals: number;
  tenants: { tenantId: string; status: CoherenceStatus; changed: boolean }[];
  /** Events moved to outbox_quarantine. */
  quarantined: number;
  /** Events that failed and wait for their next attempt. */
  failed: number;
}

const emptyResult = (): BatchResult => ({ events: 0, signals: 0, tenants: [], quarantined: 0, failed: 0 });

function addInto(total: BatchResult, part: BatchResult): void {
  total.events += part.events;
  total.signals += part.signals;
  total.tenants.push(...part.tenants);
  total.quarantined += part.quarantined;
  total.failed += part.failed;
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

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
 * A batch that fails is isolated (docs/adr/0008): unless the failure is a
 * dependency being unreachable, its events are projected one per transaction,
 * so every event that can be projected is. One that fails on its own waits
 * `retryBaseMs · 2^n` (at most `retryMaxMs`) and is then retried alone; after
 * `maxAttempts` failures it is moved to `outbox_quarantine` for an operator
 * (`npm run outbox`). An event whose envelope breaks its contract can never
 * succeed and is quarantined at once.
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
  const failurePolicy = {
    maxAttempts: options.maxAttempts ?? 5,
    retryBaseMs: options.retryBaseMs ?? 1_000,
    retryMaxMs: options.retryMaxMs ?? 60_000,
  };
  const now = options.now ?? (() => new Date());
  const windowMs = options.windowHours * 3_600_000;
  const windowIso = `PT${options.windowHours}H`;
  const log = options.logger;

  function quarantined(row: ClaimedRow, error: string, attempts: number): void {
    log.error({ outbox_id: row.id, tenant_id: row.tenant_id, attempts, error }, 'outbox event quarantined');
    options.metrics?.recordQuarantined();
  }

  /**
   * Projects the events `claim` locks, in one transaction, then publishes the
   * changes it recorded. Any failure rolls the transaction back and is thrown;
   * `claimed` then still tells which events the attempt was about.
   */
  async function project(claim: (client: PgClient) => Promise<ClaimedRow[]>, claimed: ClaimedRow[] = []): Promise<BatchResult> {
    const changes: { message: CoherenceChangedMessage; historyId: string }[] = [];
    let eventAgesSeconds: number[] = [];
    const signalsByTenant = new Map<string, number>();
    const invalid: { row: ClaimedRow; error: string; attempts: number }[] = [];
    const result = await inTransaction(options.pool, async (client): Promise<BatchResult> => {
      const rows = await claim(client);
      claimed.push(...rows);
      if (rows.length === 0) return emptyResult();

      const signals: AcceptedSignal[] = [];
      const projected: ClaimedRow[] = [];
      // The first event per tenant is what the change notification continues (trace, correlation).
      const causeByTenant = new Map<string, OutboxEvent>();
      for (const row of rows) {
        const parsed = validate(outboxEventSchema, row.envelope);
        if (parsed.ok) {
          projected.push(row);
          signals.push(...parsed.value.payload.signals);
          if (!causeByTenant.has(parsed.value.tenantId)) causeByTenant.set(parsed.value.tenantId, parsed.value);
        } else {
          // A bug upstream; retrying cannot fix it, so it goes to the operator now rather than after maxAttempts.
          const error = `outbox event does not match its contract: ${JSON.stringify(parsed.issues)}`;
          const outcome = await recordFailure(client, row.id, error, { ...failurePolicy, quarantineNow: true });
          if (outcome) invalid.push({ row, error, attempts: outcome.attempts });
        }
      }
      eventAgesSeconds = projected.map((row) => row.age_seconds);
      for (const { tenantId } of signals) signalsByTenant.set(tenantId, (signalsByTenant.get(tenantId) ?? 0) + 1);
      // One graph write serves the events of many traces: it is traced in the first one's.
      const first = projected.length > 0 ? causeByTenant.values().next().value : undefined;
      await inSpan(
        'relay project signals',
        {
          kind: SpanKind.CONSUMER,
          ...(first ? { parent: contextOf(first) } : {}),
          attributes: { 'messaging.batch.message_count': projected.length },
        },
        async () => {
          for (let i = 0; i < signals.length; i += graphChunkSize) {
            const writeStartedAt = performance.now();
            await projectSignals(options.driver, signals.slice(i, i + graphChunkSize));
            options.metrics?.recordGraphWrite((performance.now() - writeStartedAt) / 1_000);
          }
        },
      );

      // Other relays may be projecting the same tenants' other events: one score writer per tenant at a time, and asOf taken after the wait.
      await lockTenantScores(client, [...causeByTenant.keys()]);
      const asOf = now();
      const tenants: BatchResult['tenants'] = [];
      for (const [tenantId, cause] of causeByTenant) {
        // Scoring a tenant continues the trace of the event that caused it (stored with the outbox row),
        // and so does the CoherenceChanged message it may publish (docs/adr/0020-traces.md).
        await inSpan('relay score tenant', { kind: SpanKind.CONSUMER, parent: contextOf(cause) }, async () => {
          const recomputed = await recomputeScore(client, options.driver, tenantId, {
            asOf,
            windowMs,
            windowIso,
            cause: { correlationId: cause.correlationId, causationId: cause.messageId },
          });
          tenants.push({ tenantId, status: recomputed.status, changed: recomputed.changed });
          if (recomputed.change) changes.push(recomputed.change);
        });
      }
      await markProcessed(
        client,
        projected.map((r) => r.id),
      );
      return { events: projected.length, signals: signals.length, tenants, quarantined: invalid.length, failed: 0 };
    });
    for (const { row, error, attempts } of invalid) quarantined(row, error, attempts);

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
    options.metrics?.recordBatch({ events: result.events, signals: result.signals, signalsByTenant, eventAgesSeconds, published });
    if (result.events + result.quarantined > 0) options.progress?.noteProgress();
    return result;
  }

  /**
   * A failure is the event's own only if it is not a connection error and both
   * stores answer right after it: while a dependency is down every event would
   * fail, and none of them is to blame.
   */
  async function isEventsOwnFailure(error: unknown): Promise<boolean> {
    if (isConnectionError(error)) return false;
    try {
      await options.pool.query('SELECT 1');
      await options.driver.verifyConnectivity();
      return true;
    } catch {
      return false;
    }
  }

  /** One event in its own transaction; a failure of its own is counted against it, any other is thrown. */
  async function projectAlone(claim: (client: PgClient) => Promise<ClaimedRow[]>): Promise<BatchResult> {
    const claimed: ClaimedRow[] = [];
    try {
      return await project(claim, claimed);
    } catch (error) {
      const row = claimed[0];
      if (!row || !(await isEventsOwnFailure(error))) throw error;
      const outcome = await inTransaction(options.pool, (client) => recordFailure(client, row.id, errorText(error), failurePolicy));
      if (!outcome) return emptyResult();
      options.metrics?.recordFailure();
      if (outcome.quarantined) {
        quarantined(row, errorText(error), outcome.attempts);
        options.progress?.noteProgress();
        return { ...emptyResult(), quarantined: 1 };
      }
      log.warn(
        { err: error, outbox_id: row.id, tenant_id: row.tenant_id, attempts: outcome.attempts, retry_in_ms: Math.round(outcome.retryInMs) },
        'outbox event failed; retrying later',
      );
      return { ...emptyResult(), failed: 1 };
    }
  }

  async function drainBatch(): Promise<BatchResult> {
    const total = emptyResult();
    // Events that failed before are retried one at a time, so a poison pill never takes a batch down twice.
    for (let i = 0; i < batchSize; i += 1) {
      const retried = await projectAlone(claimDueRetry);
      if (retried.events + retried.quarantined + retried.failed === 0) break;
      addInto(total, retried);
    }
    const claimed: ClaimedRow[] = [];
    try {
      addInto(total, await project((client) => claimFresh(client, batchSize), claimed));
    } catch (error) {
      if (claimed.length === 0 || !(await isEventsOwnFailure(error))) throw error;
      log.warn({ err: error, events: claimed.length }, 'outbox batch failed; projecting its events one by one');
      for (const row of claimed) addInto(total, await projectAlone((client) => claimById(client, row.id)));
    }
    return total;
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
        if (result.events + result.quarantined + result.failed === 0) {
          await sleep(idlePollMs);
          continue;
        }
        for (const tenant of result.tenants)
          log.debug({ tenant_id: tenant.tenantId, status: tenant.status, changed: tenant.changed }, 'score recomputed');
        log.info(
          {
            events: result.events,
            signals: result.signals,
            tenants: result.tenants.length,
            quarantined: result.quarantined,
            failed: result.failed,
          },
          'outbox batch projected',
        );
      } catch (error) {
        // A dependency is unreachable: nothing is counted against any event, the same events are claimed again next time.
        log.error({ err: error }, 'outbox batch failed; retrying');
        await sleep(Math.max(idlePollMs, 1_000));
      }
    }
  }

  return {
    drainBatch,
    publishPending,
    /** Drains until nothing is due (for tests and one-shot runs); returns the events projected. Events waiting for a retry stay. */
    async drainAll(): Promise<number> {
      let events = 0;
      for (let result = await drainBatch(); result.events + result.quarantined + result.failed > 0; result = await drainBatch())
        events += result.events;
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
