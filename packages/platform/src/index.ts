export { loadConfig, configFields, ConfigError } from './loadConfig';
export { createLogger, type Logger } from './createLogger';
export { onShutdown, type ShutdownStep } from './onShutdown';
export { runService, type RunServiceOptions, type RunnableService } from './runService';
export { clientErrorCodes } from './createBaseApp';
export { createAdminApp, type AdminApp, type AdminAppOptions, type ReadinessCheck } from './createAdminApp';
export { createServiceApp, type ServiceApp, type ServiceAppOptions } from './createServiceApp';
export { createSubgraphService, type SubgraphService, type SubgraphServiceOptions } from './createSubgraphService';
export { mountSubgraph, maskUnexpectedErrors, type SubgraphContext, type MountSubgraphOptions } from './mountSubgraph';
export { subgraphCallRefusals } from './guardSubgraphCall';
export { subgraphConfigFields, subgraphConfigCheck, type SubgraphConfig } from './subgraphConfig';
export { tenantIdsInArguments } from './tenantIdsInArguments';
export { createPgPool, inTransaction, setTenant, type PgPool, type PgClient } from './postgres';
export {
  httpErrorCodes,
  httpErrorBody,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
  SERVICE_UNAVAILABLE_MESSAGE,
  type HttpErrorBody,
  type HttpErrorCode,
  type ErrorBodyFormat,
} from './httpErrors';
export {
  recordSecurityEvent,
  createSecurityEventWriter,
  type SecurityEvent,
  type SecurityEventKind,
  type SecurityEventWriter,
} from './securityEvents';
export { createTenantBatchWriter, type TenantBatchWriter, type TenantBatchWriterOptions } from './createTenantBatchWriter';
export { someCause, errorCode, isUnreachableError, isRefusedDataError, type CodedError } from './errorCauses';
export { canonicalJson } from './canonicalJson';
