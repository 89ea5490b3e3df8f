import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How a signal reached ingest; the `transport` label of every ingest metric. */
export type Transport = 'http' | 'kafka';

export interface IngestMetricsOptions {
  /** Reads the outbox backlog (unprojected signals, all tenants) when /metrics is scraped. */
  readBacklog: () => Promise<number>;
  /** Reads the age of the oldest unprojected outbox event when /metrics is scraped. */
  readOutboxLag: () => Promise<number>;
}

/**
 * The ingest metrics, on the process's own registry. The dedupe rate is not
 * a metric of its own: it is `rate(ingest_signals_deduped_total[5m]) /
 * rate(ingest_events_processed_total[5m])`, which stays correct when summed
 * over replicas (a ratio gauge would not).
 */
export function createIngestMetrics(registry: Registry, options: IngestMetricsOptions) {
  return {
    processed: new Counter({
      name: 'ingest_events_processed_total',
      help: 'Signals committed to the ledger or found already stored, by transport.',
      labelNames: ['transport'] as const,
      registers: [registry],
    }),
    // Per tenant for the cost model (docs/slo.md): only signals of registered tenants get this far (the write
    // policy refuses the others before anything is stored), so the label is bounded by the tenants table.
    tenantSignals: new Counter({
      name: 'ingest_tenant_signals_total',
      help: 'Signals committed to the ledger or found already stored, by tenant.',
      labelNames: ['tenant'] as const,
      registers: [registry],
    }),
    deduped: new Counter({
      name: 'ingest_signals_deduped_total',
      help: 'Signals whose key (tenant, source, signalId, ts) was already stored, by transport.',
      labelNames: ['transport'] as const,
      registers: [registry],
    }),
    writeDecisions: new Counter({
      name: 'ingest_write_decisions_total',
      help: 'Write policy decisions, by transport and reason code (ALLOWED, TENANT_UNKNOWN, RESIDENCY_VIOLATION, …).',
      labelNames: ['transport', 'reason_code'] as const,
      registers: [registry],
    }),
    refusalThrottled: new Counter({
      name: 'ingest_refusal_throttled_total',
      help: 'Pushes refused RATE_LIMITED before their token was verified because their address kept sending refused tokens.',
      registers: [registry],
    }),
    securityEventsDropped: new Counter({
      name: 'ingest_security_events_dropped_total',
      help: 'Security events (AUTH_DENY, TENANT_MISMATCH) dropped unwritten: reason="overflow" when the queue was full, "refused" when Postgres refused the row.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    deadLettered: new Counter({
      name: 'ingest_dlq_records_total',
      help: 'Kafka records sent to the dead-letter topic, by the code of their dlq-reason (STORE_FAILED: valid, but Postgres refused the data).',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    storeRetries: new Counter({
      name: 'ingest_consumer_store_retries_total',
      help: 'Failed stores of Kafka records (or reads of their tenants for the write policy) that the consumer retries after a backoff, by kind (transient: database unavailable; unknown: unclassified error).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    storeDuration: new Histogram({
      name: 'ingest_store_duration_seconds',
      help: 'Time of the ledger + outbox transaction, by transport.',
      labelNames: ['transport'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    groupCommitPushes: new Histogram({
      name: 'ingest_group_commit_pushes',
      help: 'HTTP pushes written in one transaction by the group commit (INGEST_GROUP_COMMIT_MS).',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    }),
    groupCommitSplits: new Counter({
      name: 'ingest_group_commit_splits_total',
      help: 'Groups of HTTP pushes Postgres refused as a whole, whose pushes were then stored one by one.',
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'ingest_consumer_lag',
      help: 'Records between the last one the Kafka consumer stored and the end of the partition, as of its last fetch.',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    }),
    consumerStalled: new Gauge({
      name: 'ingest_consumer_stalled',
      help: '1 while the Kafka consumer has records pending and has committed none for INGEST_CONSUMER_STALL_SECONDS (not while paused for the outbox backlog), else 0.',
      registers: [registry],
    }),
    consumerPaused: new Gauge({
      name: 'ingest_consumer_paused',
      help: '1 while the Kafka consumer does not fetch because the outbox backlog is over INGEST_BACKLOG_PAUSE_ABOVE (back-pressure), else 0.',
      registers: [registry],
    }),
    backlog: new Gauge({
      name: 'ingest_backlog',
      help: 'Accepted signals the relay has not projected yet (outbox backlog, all tenants).',
      registers: [registry],
      async collect() {
        // An unreadable backlog must not take /metrics down with it: during a database outage the
        // consumer's stall gauge is what matters. NaN says "unknown" where a stale count would mislead.
        this.set(await options.readBacklog().catch(() => Number.NaN));
      },
    }),
    outboxLag: new Gauge({
      name: 'ingest_outbox_lag_seconds',
      help: "Age of the oldest outbox event the relay has not projected (0 when none waits); the relay's own relay_outbox_lag_seconds vanishes while it is down, this one does not.",
      registers: [registry],
      async collect() {
        this.set(await options.readOutboxLag().catch(() => Number.NaN));
      },
    }),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
