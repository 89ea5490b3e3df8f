import { configFields, loadConfig } from '@coherence/platform';
import { z } from 'zod';

const windowHours = z.coerce
  .number()
  .int()
  .positive()
  .max(24 * 31)
  .default(24);

const subgraphSchema = z.object({
  COHERENCE_PORT: configFields.port(4002),
  COHERENCE_HOST: configFields.host(),
  /** Connects as coherence_app: row-level security applies. */
  COHERENCE_DATABASE_URL: configFields.url(),
  COHERENCE_WINDOW_HOURS: windowHours,
  LOG_LEVEL: configFields.logLevel(),
});

const relaySchema = z.object({
  RELAY_PORT: configFields.port(4010),
  RELAY_HOST: configFields.host(),
  /** Connects as coherence_relay: the one role that reads every tenant's outbox. */
  RELAY_DATABASE_URL: configFields.url(),
  NEO4J_URL: z
    .string()
    .regex(/^(bolt|neo4j)(\+s|\+ssc)?:\/\//, 'must be a bolt:// or neo4j:// URL')
    .default('bolt://127.0.0.1:7687'),
  NEO4J_USER: z.string().optional(),
  NEO4J_PASSWORD: z.string().optional(),
  RELAY_BATCH_SIZE: configFields.positiveInt(200),
  RELAY_IDLE_POLL_MS: configFields.positiveInt(100),
  COHERENCE_WINDOW_HOURS: windowHours,
  LOG_LEVEL: configFields.logLevel(),
});

export type CoherenceConfig = ReturnType<typeof readCoherenceConfig>;
export type RelayConfig = ReturnType<typeof readRelayConfig>;

export function readCoherenceConfig(env?: Record<string, string | undefined>) {
  return loadConfig('coherence', subgraphSchema, env);
}

export function readRelayConfig(env?: Record<string, string | undefined>) {
  return loadConfig('relay', relaySchema, env);
}
