import type { IngestConfig, IngestConsumerConfig } from './config';
import type { WritePolicyOptions } from './modules/policy/createWritePolicy';

/** The write policy's settings, which the HTTP process and the Kafka consumer read alike. */
export function writePolicyOptionsOf(config: IngestConfig | IngestConsumerConfig): Omit<WritePolicyOptions, 'pool' | 'logger' | 'metrics'> {
  return {
    region: config.INGEST_REGION,
    bundleDir: config.INGEST_POLICY_BUNDLE_DIR,
    publicKey: config.INGEST_POLICY_PUBLIC_KEY.key,
    tenantCacheTtlMs: config.INGEST_TENANT_CACHE_TTL_MS,
    tenantNegativeCacheTtlMs: config.INGEST_TENANT_NEGATIVE_CACHE_TTL_MS,
    decisionFlushMs: config.INGEST_DECISION_FLUSH_MS,
    decisionBatchSize: config.INGEST_DECISION_BATCH_SIZE,
    checkContracts: config.NODE_ENV !== 'production',
  };
}
