export { startTelemetry, shutdownTelemetry, type ServiceName, type TelemetryOptions } from './startTelemetry';
export { headSampler, DEFAULT_SAMPLING_RATIO } from './headSampler';
export { startServerSpan, TAIL_KEPT, type ServerSpan, type ServerSpanOptions } from './serverSpans';
export { TENANT_ID, TenantAttributeProcessor, setSpanTenant, withTenantBaggage } from './tenantBaggage';
export {
  contextOf,
  inClientSpan,
  inRecordedWork,
  inSpan,
  SpanKind,
  statementKeyword,
  traceHeadersOf,
  type SpanOptions,
  type TraceHeaders,
} from './spans';
