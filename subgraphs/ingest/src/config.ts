import { acceptUnknownClientsCheck, acceptUnknownClientsField } from '@coherence/policy';
import { artifactPublicKeyField, artifactTrustCheck, DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, tokenTrustCheck } from '@coherence/auth';
import { SIGNALS_DLQ_TOPIC, SIGNALS_TOPIC } from '@coherence/contracts';
import { configFields, loadConfig, subgraphConfigCheck, subgraphConfigFields } from '@coherence/platform';
import { policyBundleDir } from '@coherence/policy';
import { z } from 'zod';

/** What the HTTP process and the Kafka consumer share: the ledger, the write policy and the provenance defaults. */
const storageFields = {
  /** Connects as ingest_app: row-level security applies (ledger, outbox, tenants' residency, policy decisions; docs/adr/0015). */
  INGEST_DATABASE_URL: configFields.url(),
  /** The region this ingest stores data in; the write policy refuses tenants residing elsewhere (RESIDENCY_VIOLATION). */
  INGEST_REGION: configFields.region(),
  /** The policy bundle folder (policy.wasm, data.json, manifest.json), read at start: a bundle that does not verify stops the start. */
  INGEST_POLICY_BUNDLE_DIR: z.string().min(1).default(policyBundleDir),
  /** The public key (PEM or JWK file) the bundle must be signed with. Default: the dev key, refused in production. */
  INGEST_POLICY_PUBLIC_KEY: artifactPublicKeyField(),
  /** How long a registered tenant's residency is reused before it is read again; TenantChanged drops it at once, so this bounds only a missed notice. Default 60_000. */
  INGEST_TENANT_CACHE_TTL_MS: configFields.positiveInt(60_000),
  /** How long "this tenant is not registered" is believed: a tenant registered since is written after at most this. Default 2_000. */
  INGEST_TENANT_NEGATIVE_CACHE_TTL_MS: configFields.positiveInt(2_000),
  /** Policy decisions and security events are written at least this often while some wait… Default 200. */
  INGEST_DECISION_FLUSH_MS: configFields.positiveInt(200),
  /** …or as soon as this many are waiting. Default 200. */
  INGEST_DECISION_BATCH_SIZE: configFields.positiveInt(200),
  /** Provenance attached to signals that arrive without one. */
  INGEST_DEFAULT_PURPOSE: z.string().min(1).default('operations'),
  INGEST_DEFAULT_RETENTION: z.string().min(1).default('P30D'),
  INGEST_DEFAULT_LICENSE: z.string().min(1).default('internal'),
  INGEST_DEFAULT_RESIDENCY: z.string().min(1).default('us'),
  LOG_LEVEL: configFields.logLevel(),
};

const schema = z.object({
  /** A producer token naming a client its tenant does not have: accepted? Unset: outside production only (docs/runbooks/tenant-admin.md). */
  INGEST_ACCEPT_UNKNOWN_CLIENTS: acceptUnknownClientsField(),
  ...storageFields,
  /** `POST /v1/signals`: the only ingest port to expose to producers. */
  INGEST_PORT: configFields.port(4001),
  INGEST_HOST: configFields.host(),
  /** The subgraph's own listener, for the gateway only (never expose it). */
  INGEST_SUBGRAPH_PORT: configFields.port(4021),
  INGEST_SUBGRAPH_HOST: configFields.host(),
  /** `/healthz`, `/readyz`, `/metrics` of both listeners: for probes and the scraper only, never exposed (docs/adr/0016-admin-listeners.md). */
  INGEST_ADMIN_PORT: configFields.port(4101),
  INGEST_ADMIN_HOST: configFields.host(),
  INGEST_BODY_LIMIT_BYTES: configFields.positiveInt(1_048_576),
  INGEST_MAX_SIGNALS_PER_BATCH: configFields.positiveInt(1_000),
  /**
   * Group commit (docs/adr/0029-ingest-group-commit.md): pushes without an Idempotency-Key that arrive within this
   * many ms of each other share one transaction; each is answered when it has committed. 0 stores each alone. Default 2.
   */
  INGEST_GROUP_COMMIT_MS: z.coerce.number().int().min(0).max(1_000).default(2),
  /** …and a group is written as soon as it holds this many pushes. Default 64. */
  INGEST_GROUP_COMMIT_MAX_PUSHES: configFields.positiveInt(64),
  /** JWKS file path or https:// URL whose keys sign producers' tokens. */
  INGEST_JWKS: z.string().min(1),
  /** Comma-separated `iss` values accepted. */
  INGEST_TOKEN_ISSUERS: configFields.nonEmptyCommaList(),
  /** Longest token lifetime accepted (`exp` − `iat`); longer ones are TOKEN_CLAIMS_INVALID. Default 86_400. */
  INGEST_TOKEN_MAX_LIFETIME_SECONDS: configFields.positiveInt(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS),
  /** SUBGRAPH_INTERNAL_JWKS, SUBGRAPH_MAX_REPRESENTATIONS; NODE_ENV (`production` refuses the dev issuer and the dev key sets at start). */
  ...subgraphConfigFields,
  /** Redis holding the per-tenant limiter state (shared with every ingest replica). */
  INGEST_REDIS_URL: configFields.url(),
  /** How long the first response to an Idempotency-Key is replayed (the record is then deleted). Default 24. */
  INGEST_IDEMPOTENCY_TTL_HOURS: configFields.positiveInt(24),
  /** Each tenant's sustained share, in signals per second. Default 5_000. */
  INGEST_RATE_PER_SECOND: configFields.positiveInt(5_000),
  /** Signals a tenant may send at once after being idle; keep it ≥ INGEST_MAX_SIGNALS_PER_BATCH. Default 10_000. */
  INGEST_RATE_BURST: configFields.positiveInt(10_000),
  /** Refused tokens (401, 403) one client address may earn per second before it is throttled… Default 5. */
  INGEST_ADDRESS_REFUSALS_PER_SECOND: z.coerce.number().positive().default(5),
  /** …and at once; past it, its pushes are 429 before the token is verified until the bucket refills. Default 50. */
  INGEST_ADDRESS_REFUSAL_BURST: configFields.positiveInt(50),
  /**
   * `off` skips the write policy on `POST /v1/signals`: only for `npm run bench:ingest`, which measures what
   * the policy costs. Refused when NODE_ENV=production. Default `enforce`.
   */
  INGEST_WRITE_POLICY: z.enum(['enforce', 'off']).default('enforce'),
});

export type IngestConfig = ReturnType<typeof readIngestConfig>;

export function readIngestConfig(env?: Record<string, string | undefined>) {
  return loadConfig(
    'ingest',
    schema
      .superRefine(tokenTrustCheck({ jwks: 'INGEST_JWKS', issuers: 'INGEST_TOKEN_ISSUERS' }))
      .superRefine(subgraphConfigCheck)
      .superRefine(artifactTrustCheck(['INGEST_POLICY_PUBLIC_KEY']))
      .superRefine(acceptUnknownClientsCheck('INGEST_ACCEPT_UNKNOWN_CLIENTS'))
      .superRefine((config, ctx) => {
        if (config.NODE_ENV === 'production' && config.INGEST_WRITE_POLICY === 'off')
          ctx.addIssue({ code: 'custom', path: ['INGEST_WRITE_POLICY'], message: 'off is refused when NODE_ENV=production' });
      }),
    env,
  );
}

const consumerSchema = z.object({
  ...storageFields,
  /** The consumer serves no API: its only listener is the admin one (/healthz, /readyz, /metrics). */
  INGEST_CONSUMER_ADMIN_PORT: configFields.port(4111),
  INGEST_CONSUMER_ADMIN_HOST: configFields.host(),
  /** Comma-separated `host:port` list. */
  KAFKA_BROKERS: configFields.nonEmptyCommaList(),
  INGEST_SIGNALS_TOPIC: z.string().min(1).default(SIGNALS_TOPIC),
  INGEST_SIGNALS_DLQ_TOPIC: z.string().min(1).default(SIGNALS_DLQ_TOPIC),
  INGEST_CONSUMER_GROUP: z.string().min(1).default('coherence-ingest'),
  /** How long the group waits for a silent member (a killed process) before rebalancing its partitions. Default 30_000; the broker's minimum is 6_000. */
  INGEST_CONSUMER_SESSION_TIMEOUT_MS: configFields.positiveInt(30_000),
  /** Partitions of the topics when the consumer has to create them (an existing topic is left as it is). Default 3. */
  INGEST_TOPIC_PARTITIONS: configFields.positiveInt(3),
  /**
   * Stop fetching when the outbox holds more unprojected signals than this. Default 500_000: after a consumer outage
   * Kafka drains into the ledger first and the relay catches up from there; the bound only keeps a long graph outage
   * in Kafka rather than in Postgres (docs/adr/0003-ingest-delivery-guarantees.md).
   */
  INGEST_BACKLOG_PAUSE_ABOVE: configFields.positiveInt(500_000),
  /** Fetch again once the backlog is below this. Default 250_000. */
  INGEST_BACKLOG_RESUME_BELOW: configFields.positiveInt(250_000),
  /** How often the backlog is sampled. Default 500. */
  INGEST_BACKLOG_POLL_MS: configFields.positiveInt(500),
  /**
   * /readyz answers 503 and `ingest_consumer_stalled` is 1 once records are pending and none has been
   * committed for this long (a pause for the outbox backlog does not count). Default 60.
   */
  INGEST_CONSUMER_STALL_SECONDS: configFields.positiveInt(60),
  /** `production` refuses the dev artifact key at start. */
  NODE_ENV: z.string().optional(),
});

export type IngestConsumerConfig = ReturnType<typeof readIngestConsumerConfig>;

export function readIngestConsumerConfig(env?: Record<string, string | undefined>) {
  return loadConfig('ingest-consumer', consumerSchema.superRefine(artifactTrustCheck(['INGEST_POLICY_PUBLIC_KEY'])), env);
}
