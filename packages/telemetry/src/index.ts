export { startTelemetry, shutdownTelemetry, type ServiceName, type TelemetryOptions } from './startTelemetry';
export { headSampler, DEFAULT_SAMPLING_RATIO } from './headSampler';
export { KeepRefusedRequests, isRefusedOrFailed, recordRequestSpans } from './keepRefusedRequests';
export { TENANT_ID, TenantAttributeProcessor, setSpanTenant, withTenantBaggage } from './tenantBaggage';
export { contextOf, inSpan, SpanKind, traceHeadersOf, type SpanOptions, type TraceHeaders } from './spans';
