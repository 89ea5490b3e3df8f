import type { PgPool } from '@coherence/platform';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ProgressWatch } from './createProgressWatch';
import { countQuarantined } from './outboxQueue';

/**
 * The relay's health in numbers. Lag is read from the outbox itself at scrape
 * time (oldest pending event), so it keeps growing while the relay is stuck
 * or down — a counter the relay updates would freeze exactly then. The same
 * holds for the quarantine size and, given the relay's progress watch, for
 * `relay_stalled`.
 */
export function createRelayMetrics(registry: Registry, pool: PgPool, progress?: ProgressWatch) {
  new Gauge({
    name: 'relay_outbox_lag_seconds',
    help: 'Age of the oldest outbox event not yet projected (0 when the outbox is drained).',
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ lag: number }>(
        `SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS lag FROM outbox WHERE processed_at IS NULL`,
      );
      this.set(rows[0]?.lag ?? 0);
    },
  });
  new Gauge({
    name: 'relay_outbox_backlog',
    help: 'Outbox events not yet projected.',
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NULL');
      this.set(rows[0]?.n ?? 0);
    },
  });
  new Gauge({
    name: 'relay_outbox_quarantined',
    help: 'Outbox events in outbox_quarantine, waiting for an operator (npm run outbox -- list).',
    registers: [registry],
    async collect() {
      this.set(await countQuarantined(pool));
    },
  });
  if (progress) {
    new Gauge({
      name: 'relay_stalled',
      help: '1 while the relay has projected or quarantined nothing for RELAY_STALL_SECONDS with outbox events waiting as long.',
      registers: [registry],
      async collect() {
        this.set((await progress.isStalled()) ? 1 : 0);
      },
    });
  }
  const eventLag = new Histogram({
    name: 'relay_event_lag_seconds',
    help: 'From an outbox event being written to its projection being committed.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const graphWrite = new Histogram({
    name: 'relay_graph_write_seconds',
    help: 'Time of one Neo4j write of a chunk of signals (at most RELAY_GRAPH_CHUNK_SIZE).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const events = new Counter({ name: 'relay_events_total', help: 'Outbox events projected.', registers: [registry] });
  const signals = new Counter({ name: 'relay_signals_total', help: 'Signals projected into the graph.', registers: [registry] });
  // Per tenant for the cost model (docs/slo.md); outbox events exist only for registered tenants, so the label is bounded.
  const graphWrites = new Counter({
    name: 'relay_tenant_graph_writes_total',
    help: 'Signals written to Neo4j, by tenant.',
    labelNames: ['tenant'] as const,
    registers: [registry],
  });
  const published = new Counter({
    name: 'relay_coherence_changed_published_total',
    help: 'CoherenceChanged messages published.',
    registers: [registry],
  });
  const quarantined = new Counter({
    name: 'relay_events_quarantined_total',
    help: 'Outbox events moved to outbox_quarantine (failed RELAY_MAX_ATTEMPTS times, or not matching their contract).',
    registers: [registry],
  });
  const failures = new Counter({
    name: 'relay_event_failures_total',
    help: 'Failed attempts to project a single outbox event (dependencies reachable); each one delays it, the last one quarantines it.',
    registers: [registry],
  });
  return {
    recordQuarantined(): void {
      quarantined.inc();
    },
    recordFailure(): void {
      failures.inc();
    },
    recordGraphWrite(seconds: number): void {
      graphWrite.observe(seconds);
    },
    recordBatch(batch: {
      events: number;
      signals: number;
      signalsByTenant: ReadonlyMap<string, number>;
      eventAgesSeconds: readonly number[];
      published: number;
    }): void {
      events.inc(batch.events);
      signals.inc(batch.signals);
      for (const [tenant, count] of batch.signalsByTenant) graphWrites.inc({ tenant }, count);
      published.inc(batch.published);
      for (const age of batch.eventAgesSeconds) eventLag.observe(age);
    },
  };
}

export type RelayMetrics = ReturnType<typeof createRelayMetrics>;
