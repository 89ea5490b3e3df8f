/**
 * Every series the dashboards read, named once. `exported` are what the
 * processes serve on their admin `/metrics` today (the dashboards' e2e test
 * scrapes them); `recorded` are series the recording rules in
 * `grafana/rules/` are to produce for the SLO and cost dashboards
 * (docs/adr/0022-dashboards-as-code.md). When a metric is renamed, this file
 * is the one to change.
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
  subscriptionFanoutLatencyMs: 'subscription_fanout_latency_ms',
  subscriptionLimitRefusals: 'subscription_limit_refusals_total',
  commsCommandsFinished: 'comms_commands_finished_total',
  commsCommandRunSeconds: 'comms_command_run_seconds',
  commsOpenCommands: 'comms_open_commands',
  commsDeliveryPaused: 'comms_delivery_paused',
} as const;

/**
 * Recording-rule series the SLO and cost dashboards expect (names to
 * reconcile with `grafana/rules/`). SLO series carry an `slo` label
 * (e.g. `gateway-availability`, `gateway-latency`); cost series a `tenant`
 * label, and `component` where split (requests, signals, graph_writes,
 * notifications).
 */
export const recorded = {
  /** Share of the 30-day error budget not spent yet (1 = untouched, below 0 = overspent). */
  sloBudgetRemaining: 'slo:error_budget_remaining:ratio',
  /** The SLO's objective, e.g. 0.999. */
  sloObjective: 'slo:objective:ratio',
  /** Good events over all events in the last 30 days. */
  sloSli30d: 'slo:sli:ratio_rate30d',
  /** Error ratio over the window divided by the budget's ratio (1 - objective), per alerting window. */
  sloBurnRate5m: 'slo:burn_rate:ratio_rate5m',
  sloBurnRate1h: 'slo:burn_rate:ratio_rate1h',
  sloBurnRate6h: 'slo:burn_rate:ratio_rate6h',
  sloBurnRate3d: 'slo:burn_rate:ratio_rate3d',
  /** Cost units per hour, by tenant and component. */
  tenantCostRate1h: 'tenant:cost_units:rate1h',
  /** This month's cost so far extrapolated to the whole month, by tenant. */
  tenantCostProjectedMonth: 'tenant:cost_units:projected_month',
  /** The tenant's monthly budget in cost units. */
  tenantCostBudget: 'tenant:cost_budget_units:month',
} as const;

/**
 * The `service` label of each process's series: the Prometheus scrape
 * target's label (one job per process, docs/adr/0016-admin-listeners.md's
 * admin ports), not a label the processes set themselves.
 */
export const services = {
  gateway: 'gateway',
  ingest: 'ingest',
  ingestConsumer: 'ingest-consumer',
  coherence: 'coherence',
  relay: 'relay',
  comms: 'comms',
  commsWorker: 'comms-worker',
} as const;
