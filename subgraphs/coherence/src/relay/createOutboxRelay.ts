import { outboxEventSchema, validate, type AcceptedSignal, type CoherenceStatus } from '@coherence/contracts';
import { inTransaction, type Logger, type PgPool } from '@coherence/platform';
import type { Driver } from 'neo4j-driver';
import { setTimeout as sleep } from 'node:timers/promises';
import { computeCoherence } from '../modules/coherence/computeCoherence';
import { upsertCoherenceScore } from '../modules/coherence/readModel';
import { aggregateWindow, projectSignals } from '../graph/signalGraph';

export interface OutboxRelayOptions {
  /** Connects as coherence_relay, the one role that reads every tenant's outbox. */
  pool: PgPool;
  driver: Driver;
  logger: Logger;
  /** Outbox events claimed per transaction. Default 200. */
  batchSize?: number;
  /** Pause when the outbox is empty. Default 100 ms. */
  idlePollMs?: number;
  windowHours: number;
  now?: () => Date;
}

export interface BatchResult {
  events: number;
  signals: number;
  tenants: { tenantId: string; status: CoherenceStatus; changed: boolean }[];
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
 */
export function createOutboxRelay(options: OutboxRelayOptions) {
  const batchSize = options.batchSize ?? 200;
  const idlePollMs = options.idlePollMs ?? 100;
  const now = options.now ?? (() => new Date());
  const windowMs = options.windowHours * 3_600_000;
  const windowIso = `PT${options.windowHours}H`;
  const log = options.logger;

  async function drainBatch(): Promise<BatchResult> {
    return inTransaction(options.pool, async (client) => {
      const { rows } = await client.query<{ id: string; envelope: unknown }>(
        `SELECT id, envelope FROM outbox WHERE processed_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batchSize],
      );
      if (rows.length === 0) return { events: 0, signals: 0, tenants: [] };

      const signals: AcceptedSignal[] = [];
      for (const row of rows) {
        const parsed = validate(outboxEventSchema, row.envelope);
        if (parsed.ok) {
          signals.push(...parsed.value.payload.signals);
        } else {
          log.error({ outbox_id: row.id, issues: parsed.issues }, 'outbox event does not match its contract; skipped');
          await client.query('UPDATE outbox SET relay_error = $2 WHERE id = $1', [row.id, JSON.stringify(parsed.issues)]);
        }
      }
      await projectSignals(options.driver, signals);

      const asOf = now();
      const tenants: BatchResult['tenants'] = [];
      for (const tenantId of new Set(signals.map((s) => s.tenantId))) {
        const coherence = computeCoherence(await aggregateWindow(options.driver, tenantId, asOf, windowMs));
        const { previous } = await upsertCoherenceScore(client, tenantId, coherence, windowIso, asOf);
        const changed = previous?.score !== coherence.score || previous?.status !== coherence.status;
        tenants.push({ tenantId, status: coherence.status, changed });
      }
      await client.query('UPDATE outbox SET processed_at = now() WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
      return { events: rows.length, signals: signals.length, tenants };
    });
  }

  let running: Promise<void> | undefined;
  let stopping = false;

  async function loop(): Promise<void> {
    while (!stopping) {
      try {
        const result = await drainBatch();
        if (result.events === 0) {
          await sleep(idlePollMs);
          continue;
        }
        for (const tenant of result.tenants)
          log.info({ tenant_id: tenant.tenantId, status: tenant.status, changed: tenant.changed }, 'score recomputed');
        log.info({ events: result.events, signals: result.signals }, 'outbox batch projected');
      } catch (error) {
        // Nothing was committed; the same events are claimed again next time.
        log.error({ err: error }, 'outbox batch failed; retrying');
        await sleep(Math.max(idlePollMs, 1_000));
      }
    }
  }

  return {
    drainBatch,
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
