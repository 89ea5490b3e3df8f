import type { Provenance } from '@coherence/contracts';
import type { IngestConfig, IngestConsumerConfig } from './config';

/** The provenance attached to signals that arrive without one (both transports use the same). */
export function defaultProvenanceOf(config: IngestConfig | IngestConsumerConfig): Provenance {
  return {
    purpose: config.INGEST_DEFAULT_PURPOSE,
    retention: config.INGEST_DEFAULT_RETENTION,
    license: config.INGEST_DEFAULT_LICENSE,
    residency: config.INGEST_DEFAULT_RESIDENCY,
  };
}
