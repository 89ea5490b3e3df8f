import { configFields, loadConfig } from '@coherence/platform';
import { z } from 'zod';

const schema = z.object({
  INGEST_PORT: configFields.port(4001),
  INGEST_HOST: configFields.host(),
  /** Connects as coherence_app: a role that row-level security applies to. */
  INGEST_DATABASE_URL: configFields.url(),
  INGEST_BODY_LIMIT_BYTES: configFields.positiveInt(1_048_576),
  INGEST_MAX_SIGNALS_PER_BATCH: configFields.positiveInt(1_000),
  /** Provenance attached to signals that arrive without one. */
  INGEST_DEFAULT_PURPOSE: z.string().min(1).default('operations'),
  INGEST_DEFAULT_RETENTION: z.string().min(1).default('P30D'),
  INGEST_DEFAULT_LICENSE: z.string().min(1).default('internal'),
  INGEST_DEFAULT_RESIDENCY: z.string().min(1).default('us'),
  LOG_LEVEL: configFields.logLevel(),
});

export type IngestConfig = ReturnType<typeof readIngestConfig>;

export function readIngestConfig(env?: Record<string, string | undefined>) {
  return loadConfig('ingest', schema, env);
}
