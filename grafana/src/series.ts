/**
 * Every series the dashboards read, named once: `exported` are metrics of
 * the vocabulary (grafana/metrics.json, what the processes serve on their
 * admin `/metrics`), `recorded` are series of the recording rules in
 * grafana/rules/ (docs/adr/0022-dashboards-as-code.md). When a metric is
 * renamed, this file is the one to change.
 */
export const exported = {
  /** Every service listener's requests (packages/platform createAdminApp), by method, route, status. */
  httpRequestSeconds: 'http_request_duration_seconds',
  gatewayAuthDenials: 'gateway_auth_denials_total',
  gatewayPolicyDecisions: 'gateway_policy_decisions_total',
  gatewayCacheRequests: 'gateway_cache_requests_total',
  gatewayCacheErrors: 'gateway_cache_errors_total',
  gatewayRatelimitDecisions: 'gateway_ratelimit_decisions_total',
  gatewayRatelimitLimited: 'gateway_ratelimit_limited_total',
  gatewayRatelimitShareFactor: 'gateway_ratelimit_share_factor',
  gatewayInFlightRequests: 'gateway_in_flight_requests',
  ratelimitFallbackDecisions: 'ratelimit_fallback_decisions_total',
  ratelimitRedisAvailable: 'ratelimit_redis_available',
  ingestProcessed: 'ingest_events_processed_total',
  ingestDeduped: 'ingest_signals_deduped_total',
  ingestWriteDecisions: 'ingest_write_decisions_total',
  ingestStoreSeconds: 'ingest_store_duration_seconds',
  ingestConsumerLag: 'ingest_consumer_lag',
  ingestConsumerPaused: 'ingest_consumer_paused',
  ingestConsumerStalled: 'ingest_consumer_stalled',
  ingestDlqRecords: 'ingest_dlq_records_total',
  relayOutboxLagSeconds: 'relay_outbox_lag_seconds',
  relayOutboxBacklog: 'relay_outbox_backlog',
  relayOutboxQuarantined: 'relay_outbox_quarantined',
  relayEvents: 'relay_events_total',
  relaySignals: 'relay_signals_total',
  relayEventFailures: 'relay_event_failures_total',
  relayEventsQuarantined: 'relay_events_quarantined_total',
  relayEventLagSeconds: 'relay_event_lag_seconds',
  relayGraphWriteSeconds: 'relay_graph_write_seconds',
  relayChangedPublished: 'relay_coherence_changed_published_total',
  coherenceReadModelReads: 'coherence_read_model_reads_total',
  subscriptionActive: 'subscription_active',
  subscriptionFanoutLatencySeconds: 'subscription_fanout_latency_seconds',
  subscriptionLimitRefusals: 'subscription_limit_refusals_total',
  commsCommandsFinished: 'comms_commands_finished_total',
  commsCommandRunSeconds: 'comms_command_run_seconds',
  commsOpenCommands: 'comms_open_commands',
  commsDeliveryPaused: 'comms_delivery_paused',
} as const;

/**
 * Recording-rule series of `grafana/rules/` the SLO and cost dashboards read
 * (docs/slo.md). The rules aggregate `region` away, so these are not
 * filtered by region.
 */
export const recorded = {
  /** Share of the gateway's POST /graphql answered 5xx, per window. */
  gatewayAvailabilityErrorRatio: {
    '5m': 'gateway:availability_error_ratio:rate5m',
    '30m': 'gateway:availability_error_ratio:rate30m',
    '1h': 'gateway:availability_error_ratio:rate1h',
    '2h': 'gateway:availability_error_ratio:rate2h',
    '6h': 'gateway:availability_error_ratio:rate6h',
    '1d': 'gateway:availability_error_ratio:rate1d',
    '3d': 'gateway:availability_error_ratio:rate3d',
  },
  /** Share of the gateway's POST /graphql slower than 250 ms, per window. */
  gatewayLatencySlowRatio: {
    '5m': 'gateway:latency_slow_ratio:rate5m',
    '30m': 'gateway:latency_slow_ratio:rate30m',
    '1h': 'gateway:latency_slow_ratio:rate1h',
    '2h': 'gateway:latency_slow_ratio:rate2h',
    '6h': 'gateway:latency_slow_ratio:rate6h',
    '1d': 'gateway:latency_slow_ratio:rate1d',
    '3d': 'gateway:latency_slow_ratio:rate3d',
  },
  /** Share of ingest's POST /v1/signals answered 5xx over 30 minutes. */
  ingestAcceptanceErrorRatio30m: 'ingest:acceptance_error_ratio:rate30m',
  /** Share of outbox events projected more than 30 s after being written, over 30 minutes. */
  freshnessSlowRatio30m: 'relay:freshness_slow_ratio:rate30m',
  /** Cost units per second by tenant and component (requests, signals, graph_writes, notifications), over 6 hours. */
  tenantComponentCostRate: 'tenant_component:cost_units:rate6h',
  /** Cost units per second by tenant, over 6 hours. */
  tenantCostRate: 'tenant:cost_units:rate6h',
  /** A month (30 days) at the last 6 hours' pace, by tenant. */
  tenantCostProjectedMonth: 'tenant:cost_units:projected_month',
  /** Projected month over the tenant's monthly budget. */
  tenantCostBudgetUsed: 'tenant:cost_budget_used:ratio',
} as const;

/** Every recording-rule series name a dashboard may read. */
export const recordedNames: readonly string[] = Object.values(recorded).flatMap((entry) =>
  typeof entry === 'string' ? [entry] : Object.values(entry),
);

/** The `service` label of each process's series: a label of the scrape target, not one the processes set (grafana/README.md, "Labels"). */
export const services = {
  gateway: 'gateway',
  ingest: 'ingest',
  ingestConsumer: 'ingest-consumer',
  coherence: 'coherence',
  relay: 'relay',
  comms: 'comms',
  commsWorker: 'comms-worker',
} as const;
