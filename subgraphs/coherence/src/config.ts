import { COHERENCE_CHANGED_CHANNEL } from '@coherence/contracts';
import { configFields, loadConfig, subgraphConfigCheck, subgraphConfigFields } from '@coherence/platform';
import { z } from 'zod';

const windowHours = z.coerce
  .number()
  .int()
  .positive()
  .max(24 * 31)
  .default(24);

const neo4jFields = {
  NEO4J_URL: z
    .string()
    .regex(/^(bolt|neo4j)(\+s|\+ssc)?:\/\//, 'must be a bolt:// or neo4j:// URL')
    .default('bolt://127.0.0.1:7687'),
  NEO4J_USER: z.string().optional(),
  NEO4J_PASSWORD: z.string().optional(),
};

/** `region=url` pairs, comma-separated: `eu=postgres://…,us=postgres://…`. */
const regionUrls = z
  .string()
  .default('')
  .transform((value, context) => {
    const replicas: Record<string, string> = {};
    const pairs = value.split(',').map((part) => part.trim());
    for (const pair of pairs.filter((part) => part.length > 0)) {
      const separator = pair.indexOf('=');
      const region = pair.slice(0, separator);
      const url = pair.slice(separator + 1);
      if (separator < 1 || !/^[a-z][a-z0-9-]*$/.test(region) || !z.url().safeParse(url).success) {
        context.addIssue({ code: 'custom', message: `"${pair.replace(/\/\/[^@]*@/, '//…@')}" is not <region>=<postgres url>` });
        continue;
      }
      replicas[region] = url;
    }
    return replicas;
  });

const subgraphSchema = z.object({
  COHERENCE_PORT: configFields.port(4002),
  COHERENCE_HOST: configFields.host(),
  /** `/healthz`, `/readyz`, `/metrics`: for probes and the scraper only, never exposed (docs/adr/0016-admin-listeners.md). */
  COHERENCE_ADMIN_PORT: configFields.port(4102),
  COHERENCE_ADMIN_HOST: configFields.host(),
  /** Connects as coherence_app: reads one tenant's score, row-level security applies (docs/adr/0015). */
  COHERENCE_DATABASE_URL: configFields.url(),
  COHERENCE_WINDOW_HOURS: windowHours,
  /**
   * Region-tagged streaming replicas of the read model, as coherence_app:
   * a read whose internal token names a replica region (the gateway's, while
   * `region-routing` is on) goes to that region's replica; one without, or
   * for a region not listed, to COHERENCE_DATABASE_URL (the primary).
   */
  COHERENCE_READ_REPLICAS: regionUrls,
  /**
   * A replica further behind its primary than this (in replaying WAL) is
   * passed over: its reads go to the primary, counted in
   * coherence_replica_fallbacks_total, as are reads while it does not answer.
   */
  COHERENCE_REPLICA_MAX_LAG_MS: configFields.positiveInt(5_000),
  /** `signals` reads the graph. */
  ...neo4jFields,
  /** Largest `first` a `signals` page may ask for. */
  SIGNALS_MAX_PAGE_SIZE: configFields.positiveInt(500),
  ...subgraphConfigFields,
  LOG_LEVEL: configFields.logLevel(),
});

const relaySchema = z.object({
  /** The relay serves no API: its only listener is the admin one (/healthz, /readyz, /metrics). */
  RELAY_ADMIN_PORT: configFields.port(4110),
  RELAY_ADMIN_HOST: configFields.host(),
  /** Connects as relay_app: the one role that drains every tenant's outbox (docs/adr/0015). */
  RELAY_DATABASE_URL: configFields.url(),
  ...neo4jFields,
  RELAY_BATCH_SIZE: configFields.positiveInt(200),
  /** Signals per Neo4j write transaction. */
  RELAY_GRAPH_CHUNK_SIZE: configFields.positiveInt(2_000),
  RELAY_IDLE_POLL_MS: configFields.positiveInt(100),
  /** Changes recorded but still unpublished after this long (a relay died, Redis was down) are published by the sweep. */
  RELAY_REPUBLISH_AFTER_MS: configFields.positiveInt(10_000),
  /** Failures of one outbox event before it is moved to outbox_quarantine (docs/adr/0008). */
  RELAY_MAX_ATTEMPTS: configFields.positiveInt(5),
  /** Wait after an event's first failure, doubled after each further one. */
  RELAY_RETRY_BASE_MS: configFields.positiveInt(1_000),
  /** Longest wait between two attempts of one event. */
  RELAY_RETRY_MAX_MS: configFields.positiveInt(60_000),
  /** /readyz answers 503 (and relay_stalled is 1) after this long without progress while events wait as long. */
  RELAY_STALL_SECONDS: configFields.positiveInt(60),
  COHERENCE_WINDOW_HOURS: windowHours,
  /** Where `CoherenceChanged` is published (Redis pub/sub). */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .default('redis://127.0.0.1:6379'),
  /** Tests prefix it with their namespace; production keeps the contract's name. */
  COHERENCE_CHANGED_CHANNEL: z.string().min(1).default(COHERENCE_CHANGED_CHANNEL),
  LOG_LEVEL: configFields.logLevel(),
});

const ttlDays = (defaultDays: number) => z.coerce.number().positive().default(defaultDays);

const retentionSchema = z
  .object({
    /** Connects as retention_app: reads the columns that date a row and deletes, across tenants (docs/adr/0015). */
    RETENTION_DATABASE_URL: configFields.url(),
    ...neo4jFields,
    /** Signal ledger rows, by observation time `ts`. */
    RETENTION_SIGNALS_TTL_DAYS: ttlDays(30),
    /** Signal nodes in the graph, by `ts`; longer than the scoring window, or scores would change. */
    RETENTION_GRAPH_TTL_DAYS: ttlDays(30),
    /** Processed outbox events, by `processed_at` (pending ones are never removed). */
    RETENTION_OUTBOX_TTL_DAYS: ttlDays(7),
    /** Policy decisions, by `decided_at`. */
    RETENTION_POLICY_DECISIONS_TTL_DAYS: ttlDays(400),
    /** Finished comms commands (succeeded or cancelled), by `created_at`. */
    RETENTION_COMMS_TTL_DAYS: ttlDays(90),
    /** Inbound comms envelopes (provider payloads), by `received_at`; at least a day (their MessageSids tell Twilio replays). */
    RETENTION_COMMS_ENVELOPES_TTL_DAYS: ttlDays(90),
    /** Security events (refused tokens, tenant mismatches, break glass), by `occurred_at`. */
    RETENTION_SECURITY_EVENTS_TTL_DAYS: ttlDays(400),
    /** Score history (every change of a tenant's score or status), by `changed_at`; unpublished changes stay. */
    RETENTION_SCORES_HISTORY_TTL_DAYS: ttlDays(400),
    /** Rows or nodes removed per transaction. */
    RETENTION_BATCH_SIZE: configFields.positiveInt(5_000),
    COHERENCE_WINDOW_HOURS: windowHours,
  })
  .refine((config) => config.RETENTION_GRAPH_TTL_DAYS * 24 > config.COHERENCE_WINDOW_HOURS, {
    error: 'RETENTION_GRAPH_TTL_DAYS must be longer than the scoring window (COHERENCE_WINDOW_HOURS)',
    path: ['RETENTION_GRAPH_TTL_DAYS'],
  })
  .refine((config) => config.RETENTION_COMMS_ENVELOPES_TTL_DAYS >= 1, {
    error: 'RETENTION_COMMS_ENVELOPES_TTL_DAYS must be at least 1: comms refuses a replayed Twilio message by the MessageSid kept there',
    path: ['RETENTION_COMMS_ENVELOPES_TTL_DAYS'],
  });

const graphRebuildSchema = z.object({
  /** Connects as rebuild_app: reads every tenant's ledger, writes scores and its checkpoints (docs/adr/0015). */
  REBUILD_DATABASE_URL: configFields.url(),
  ...neo4jFields,
  /** Ledger rows read and projected per step (one Neo4j transaction, one checkpoint). */
  REBUILD_BATCH_SIZE: configFields.positiveInt(2_000),
  COHERENCE_WINDOW_HOURS: windowHours,
});

export type CoherenceConfig = ReturnType<typeof readCoherenceConfig>;
export type RelayConfig = ReturnType<typeof readRelayConfig>;
export type RetentionConfig = ReturnType<typeof readRetentionConfig>;
export type GraphRebuildConfig = ReturnType<typeof readGraphRebuildConfig>;

export function readCoherenceConfig(env?: Record<string, string | undefined>) {
  return loadConfig('coherence', subgraphSchema.superRefine(subgraphConfigCheck), env);
}

export function readRelayConfig(env?: Record<string, string | undefined>) {
  return loadConfig('relay', relaySchema, env);
}

export function readRetentionConfig(env?: Record<string, string | undefined>) {
  return loadConfig('retention', retentionSchema, env);
}

export function readGraphRebuildConfig(env?: Record<string, string | undefined>) {
  return loadConfig('graph-rebuild', graphRebuildSchema, env);
}
