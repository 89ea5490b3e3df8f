import { configFields, loadConfig } from '@coherence/platform';
import { z } from 'zod';

const schema = z.object({
  COMMS_PORT: configFields.port(4003),
  COMMS_HOST: configFields.host(),
  /** Connects as coherence_app: row-level security applies. */
  COMMS_DATABASE_URL: configFields.url(),
  LOG_LEVEL: configFields.logLevel(),
});

export type CommsConfig = ReturnType<typeof readCommsConfig>;

export function readCommsConfig(env?: Record<string, string | undefined>) {
  return loadConfig('comms', schema, env);
}
