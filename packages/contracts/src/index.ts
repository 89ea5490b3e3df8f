export {
  formatIssuePath,
  formatValidationIssues,
  toValidationIssues,
  validate,
  validationIssueSchema,
  VALIDATION_RULES,
} from './validationIssue';
export type { ToValidationIssuesOptions, ValidationIssue, ValidationResult, ValidationRule } from './validationIssue';

export {
  boundedString,
  correlationIdSchema,
  CORRELATION_ID_MAX_LENGTH,
  idempotencyKeySchema,
  isCorrelationId,
  isoDateTimeSchema,
  isoDurationSchema,
  isStorableString,
  sha256HexSchema,
  STORABLE_STRING_RULE,
  storableStringSchema,
  tenantIdSchema,
  TENANT_ID_MAX_LENGTH,
  unitIntervalSchema,
  uuidSchema,
} from './scalars';

export {
  acceptedSignalSchema,
  createSignalSchema,
  DEFAULT_MAX_FUTURE_SKEW_MS,
  MAX_SIGNAL_WEIGHT,
  MIN_SIGNAL_WEIGHT,
  provenanceSchema,
  signalSchema,
} from './signal';
export type { AcceptedSignal, Provenance, Signal, SignalClockOptions, SignalInput } from './signal';

export { createSignalBatchSchema, DEFAULT_MAX_SIGNALS_PER_BATCH, signalBatchSchema } from './signalBatch';
export type { SignalBatch, SignalBatchInput, SignalBatchSchemaOptions } from './signalBatch';

export {
  COHERENCE_STATUSES,
  coherenceScoreSchema,
  coherenceStatusSchema,
  DEFAULT_COHERENCE_WINDOW,
  sourceScoreSchema,
} from './coherenceScore';
export type { CoherenceScore, CoherenceStatus, SourceScore } from './coherenceScore';

export {
  COHERENCE_CHANGED,
  coherenceChangedMessageSchema,
  decodeCoherenceChangedMessage,
  coherenceChangedSchema,
  coherenceSnapshotSchema,
  createCoherenceChangedMessage,
} from './coherenceChanged';
export type { CoherenceChanged, CoherenceChangedInit, CoherenceChangedMessage, CoherenceSnapshot } from './coherenceChanged';

export { envelopeHeaderSchema, eventEnvelopeSchema, messageEnvelopeSchema } from './messageEnvelope';
export type { EnvelopeHeader, MessageEnvelope } from './messageEnvelope';

export {
  outboxEventSchema,
  SIGNALS_ACCEPTED,
  signalsAcceptedEventSchema,
  signalsAcceptedPayloadSchema,
  TENANT_AGGREGATE,
} from './outboxEvent';
export type { OutboxEvent, OutboxEventType, SignalsAcceptedEvent, SignalsAcceptedPayload } from './outboxEvent';

export { POLICY_REASON_CODES, policyDecisionSchema, policyOperationTypeSchema, policyReasonCodeSchema } from './policyDecision';
export type { PolicyDecision, PolicyOperationType, PolicyReasonCode } from './policyDecision';

export { commsChannelSchema, commsDirectionSchema, commsEnvelopeSchema, providerPayloadSchema } from './commsEnvelope';
export type { CommsChannel, CommsDirection, CommsEnvelope, ProviderPayload } from './commsEnvelope';

export { commandPayloadSchema, dispatchCommandSchema, MAX_DISPATCH_ATTEMPTS } from './dispatchCommand';
export type { CommandPayload, DispatchCommand } from './dispatchCommand';

export { evidenceActorSchema, evidenceRecordSchema } from './evidenceRecord';
export type { EvidenceActor, EvidenceRecord } from './evidenceRecord';

export { errorResponseSchema, ingestAcceptedSchema } from './ingestResponse';
export type { ErrorResponse, IngestAccepted } from './ingestResponse';

export { isTraceparent, requestTrace, sentTraceId } from './requestTrace';
export type { IncomingHeaders, RequestTrace, RequestTraceOptions } from './requestTrace';

export {
  AUTHORIZATION_HEADER,
  BAGGAGE_HEADER,
  IDEMPOTENCY_KEY_HEADER,
  INTERNAL_TOKEN_HEADER,
  REQUEST_ID_HEADER,
  RETRY_AFTER_HEADER,
  SUBGRAPH_MAX_BATCH,
  TENANTS_TOUCHED_EXTENSION,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
} from './headers';

export { COHERENCE_CHANGED_CHANNEL, SIGNALS_DLQ_TOPIC, SIGNALS_TOPIC } from './topics';

export { jsonSchemasDir, renderJsonSchemas } from './jsonSchemas';

export { TENANT_CHANGED_CHANNEL, tenantChangeKinds, tenantChangedSchema } from './tenantChanged';
export type { TenantChanged } from './tenantChanged';
