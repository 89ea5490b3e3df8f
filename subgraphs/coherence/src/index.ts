export { coherenceTypeDefs } from './coherenceTypeDefs';
export { computeCoherence, aggregateBySource, statusOf, type SourceAggregate, type Coherence } from './modules/coherence/computeCoherence';
export { createCoherenceService } from './createCoherenceService';
export { createRelayService } from './relay/createRelayService';
export { createOutboxRelay, type OutboxRelay } from './relay/createOutboxRelay';
export {
  createNeo4jDriver,
  ensureGraphSchema,
  projectSignals,
  aggregateWindow,
  readSignalPage,
  type GraphSignal,
} from './graph/signalGraph';
export { createChangePublisher, type ChangePublisher } from './events/createChangePublisher';
export { createRelayMetrics, type RelayMetrics } from './relay/createRelayMetrics';
export {
  listQuarantined,
  listRetrying,
  retryQuarantined,
  dropQuarantined,
  type QuarantinedEvent,
  type RetryingEvent,
  type QuarantineChange,
} from './relay/outboxQuarantine';
export {
  readCoherenceConfig,
  readRelayConfig,
  readRetentionConfig,
  readGraphRebuildConfig,
  type CoherenceConfig,
  type GraphRebuildConfig,
  type RelayConfig,
  type RetentionConfig,
} from './config';
export { createRetention, type Retention, type RetentionReportRow, type RetentionOutcome } from './retention/createRetention';
export {
  createGraphRebuild,
  type GraphRebuild,
  type GraphRebuildOptions,
  type TenantPlan,
  type TenantProgress,
  type TenantRebuild,
} from './rebuild/rebuildGraph';
