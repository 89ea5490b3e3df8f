import { acceptUnknownClientsCheck, acceptUnknownClientsField } from '@coherence/policy';
import {
  allowRollbackField,
  artifactPublicKeyField,
  artifactTrustCheck,
  DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  internalKeyTrustCheck,
  tokenTrustCheck,
} from '@coherence/auth';
import { flagsConfigFields } from '@coherence/flags';
import { configFields, loadConfig } from '@coherence/platform';
import { manifestPath } from '@coherence/persisted-queries';
import { z } from 'zod';
import { policyBundleDir } from '@coherence/policy';
import { browserConfigFields } from './browser/config';
import { subscriptionConfigFields } from './subscriptions/config';
import { supergraphPath } from './supergraph/subgraphs';

/** The longest break glass may be set to last from start (GATEWAY_BREAK_GLASS_UNTIL); a restart with a new time extends it. */
const BREAK_GLASS_MAX_HOURS = 24;

const schema = z.object({
  GATEWAY_PORT: configFields.port(4000),
  GATEWAY_HOST: configFields.host(),
  /** `/healthz`, `/readyz`, `/metrics`: for probes and the scraper only, never exposed (docs/adr/0016-admin-listeners.md). */
  GATEWAY_ADMIN_PORT: configFields.port(4100),
  GATEWAY_ADMIN_HOST: configFields.host(),
  SUBGRAPH_COHERENCE_URL: configFields.url().default('http://127.0.0.1:4002/graphql'),
  SUBGRAPH_INGEST_URL: configFields.url().default('http://127.0.0.1:4021/graphql'),
  SUBGRAPH_COMMS_URL: configFields.url().default('http://127.0.0.1:4003/graphql'),
  GATEWAY_SUPERGRAPH_PATH: z.string().min(1).default(supergraphPath),
  GATEWAY_MANIFEST_PATH: z.string().min(1).default(manifestPath),
  GATEWAY_BODY_LIMIT_BYTES: configFields.positiveInt(65_536),
  /** Connects as gateway_app (row-level security applies): tenants' residency, policy decisions, security events (docs/adr/0015). */
  GATEWAY_DATABASE_URL: configFields.url(),
  /** The region this gateway serves; the policy denies reads of tenants residing elsewhere. */
  GATEWAY_REGION: configFields.region(),
  /** The key set tokens are verified against: a JWKS file path or an https:// URL. */
  GATEWAY_JWKS: z.string().min(1),
  /** Accepted token issuers (`iss`), comma-separated. */
  GATEWAY_TOKEN_ISSUERS: configFields.nonEmptyCommaList(),
  /** Longest token lifetime accepted (`exp` − `iat`); longer ones are TOKEN_CLAIMS_INVALID. Default 86_400. */
  GATEWAY_TOKEN_MAX_LIFETIME_SECONDS: configFields.positiveInt(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS),
  /**
   * The private JWK file (ES256 or RS256, with a `kid`) the gateway signs its
   * internal tokens to the subgraphs with; a key pair of its own, whose public
   * half is in the subgraphs' SUBGRAPH_INTERNAL_JWKS.
   */
  GATEWAY_INTERNAL_SIGNING_KEY: z.string().min(1),
  /** `production` refuses the dev issuer and the dev key sets at start. */
  NODE_ENV: z.string().optional(),
  /** The policy bundle folder (policy.wasm, data.json, manifest.json, .signatures.json); re-read on SIGHUP or when .signatures.json changes. */
  GATEWAY_POLICY_BUNDLE_DIR: z.string().min(1).default(policyBundleDir),
  /**
   * Shadow mode: a candidate bundle folder evaluated after every live decision
   * (signed with the same key); what it answers differently is counted and
   * kept with the decision, never answered (docs/runbooks/policy-rollout.md).
   * Re-read like the live bundle. Unset: no shadow.
   */
  GATEWAY_SHADOW_BUNDLE_DIR: z.string().min(1).optional(),
  /** The public key (PEM or JWK file) policy bundles must be signed with; read once at start. Default: the dev key, refused in production. */
  GATEWAY_POLICY_PUBLIC_KEY: artifactPublicKeyField(),
  /** The public key (PEM or JWK file) the persisted-operation manifest must be signed with (`pq publish`). Default: the dev key, refused in production. */
  GATEWAY_MANIFEST_PUBLIC_KEY: artifactPublicKeyField(),
  /**
   * `true` (the `--allow-rollback` of a service, read at start): a policy
   * bundle or manifest older than the active one may be activated. Default
   * false: an older one is refused, so a replayed old signed artifact cannot
   * undo a fix.
   */
  GATEWAY_ALLOW_ROLLBACK: allowRollbackField(),
  /** Kill switch: scopes paused here grant nothing, comma-separated. */
  GATEWAY_PAUSED_SCOPES: configFields.commaList(),
  /**
   * Break glass, for triage: until this time (ISO 8601 with a zone, e.g.
   * 2026-11-26T18:00:00Z), query text also runs, for tokens with the
   * platform:break-glass scope issued in the last 15 minutes (still
   * policy-checked and audited). Unset (the default): off. A time in the past
   * or more than 24 hours ahead is refused at start, so it cannot be left on.
   */
  GATEWAY_BREAK_GLASS_UNTIL: z.iso
    .datetime({ offset: true, error: 'an ISO 8601 time with a zone, such as 2026-11-26T18:00:00Z' })
    .transform((value) => new Date(value))
    .refine((until) => until.getTime() > Date.now(), { error: 'is in the past: unset it, or set when break glass ends' })
    .refine((until) => until.getTime() <= Date.now() + BREAK_GLASS_MAX_HOURS * 3_600_000, {
      error: `is more than ${BREAK_GLASS_MAX_HOURS} hours ahead: break glass is for one incident`,
    })
    .optional(),
  /** How long a tenant's row (and an API client's) is reused; TenantChanged drops it at once, so this bounds only a missed notice. */
  GATEWAY_TENANT_CACHE_TTL_MS: configFields.positiveInt(60_000),
  /** A token naming a client its tenant does not have: accepted? Unset: outside production only (docs/runbooks/tenant-admin.md). */
  GATEWAY_ACCEPT_UNKNOWN_CLIENTS: acceptUnknownClientsField(),
  /** How long "this tenant is not registered" is believed: a tenant registered since is served after at most this. */
  GATEWAY_TENANT_NEGATIVE_CACHE_TTL_MS: configFields.positiveInt(2_000),
  /** Refusals (401, 403, 400…) one client address may earn per second before it is throttled… */
  GATEWAY_ADDRESS_REFUSALS_PER_SECOND: z.coerce.number().positive().default(5),
  /** …and at once; past it, its requests are 429 before authentication until the bucket refills. */
  GATEWAY_ADDRESS_REFUSAL_BURST: configFields.positiveInt(50),
  /** Policy decisions are written in batches: at most this often… */
  GATEWAY_DECISION_FLUSH_MS: configFields.positiveInt(200),
  /** …or as soon as this many are waiting. */
  GATEWAY_DECISION_BATCH_SIZE: configFields.positiveInt(200),
  /** GATEWAY_CORS_ORIGINS, GATEWAY_CORS_MAX_AGE_SECONDS: which browser pages may call the gateway. */
  ...browserConfigFields,
  /** GATEWAY_REDIS_URL, COHERENCE_CHANGED_CHANNEL and the subscription endpoint's settings. */
  ...subscriptionConfigFields,
  /** Prepended to every cache and limiter key, so deployments (or tests) can share one Redis. */
  GATEWAY_REDIS_KEY_PREFIX: z.string().default('gateway:'),
  /** A Redis command slower than this counts as failed: the request goes on without cache or limiter. */
  GATEWAY_REDIS_COMMAND_TIMEOUT_MS: configFields.positiveInt(100),
  /** The `tenantCoherence` response cache; off sends every read to the subgraphs. Default on. */
  GATEWAY_CACHE_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((value) => value === 'true'),
  /**
   * Identical subgraph calls of queries in flight at once (same operation, variables and caller identity) share
   * one call (docs/adr/0033-subgraph-fetch.md). Default on.
   */
  GATEWAY_SHARE_SUBGRAPH_CALLS: z
    .enum(['true', 'false'])
    .default('true')
    .transform((value) => value === 'true'),
  /**
   * Query calls go to their subgraph in the batched protocol, this many HTTP calls under way at once per subgraph;
   * the calls asked for meanwhile wait and go together, several in one HTTP call, when one returns (a full batch of
   * 32, or calls that waited 50 ms, go at once; docs/adr/0037-batched-subgraph-calls.md). An idle gateway sends each
   * call at once. 0 sends every call alone, as Apollo does. Default 2: one slow call never holds all the others back.
   */
  GATEWAY_SUBGRAPH_CALLS_IN_FLIGHT: z.coerce.number().int().min(0).default(2),
  /**
   * How long a subgraph may take to start answering a call, and then to send each next part of its answer: past it
   * the call is dropped and the read answers SERVICE_UNAVAILABLE, as for a subgraph that cannot be reached. Default 10 s.
   */
  GATEWAY_SUBGRAPH_TIMEOUT_MS: configFields.positiveInt(10_000),
  /** How long a cached read lives, unless the tenant's row sets `cache_ttl_seconds`. */
  GATEWAY_CACHE_TTL_SECONDS: configFields.positiveInt(30),
  /** Each entry's TTL moves by up to ± this fraction, so entries written together do not expire together. */
  GATEWAY_CACHE_TTL_JITTER: z.coerce.number().min(0).max(0.5).default(0.1),
  /** On a miss that another instance is already loading: how long to wait for its answer before loading too. */
  GATEWAY_CACHE_LOCK_WAIT_MS: configFields.positiveInt(500),
  /** Tokens per second a tenant of weight 1 may spend (weight w: w times as many); a request spends its operation's cost (costs.json). */
  GATEWAY_RATE_PER_SECOND: z.coerce.number().positive().default(50),
  /**
   * Tokens per second one caller (token subject) may spend on tenants other
   * than its own, summed over them: what bounds an operator. Unset: half of
   * GATEWAY_RATE_PER_SECOND. On its own tenant a caller has that tenant's share.
   */
  GATEWAY_CALLER_RATE_PER_SECOND: z.coerce.number().positive().optional(),
  /** The burst a tenant may spend at once after being idle, in seconds of its rate. */
  GATEWAY_RATE_BURST_SECONDS: z.coerce.number().positive().default(2),
  /** Saturated above this many requests in flight in this process… */
  GATEWAY_SATURATION_IN_FLIGHT: configFields.positiveInt(256),
  /** …or above this event-loop delay (p99 of the last second); then every tenant's rate shrinks by the same factor. */
  GATEWAY_SATURATION_LOOP_DELAY_MS: configFields.positiveInt(100),
  /** Feature flags from Unleash (UNLEASH_URL, UNLEASH_API_TOKEN, UNLEASH_REFRESH_INTERVAL_MS, FLAGS_BOOTSTRAP): kill switch, region routing. */
  ...flagsConfigFields,
  LOG_LEVEL: configFields.logLevel(),
});

export type GatewayConfig = ReturnType<typeof readGatewayConfig>;

export function readGatewayConfig(env?: Record<string, string | undefined>) {
  return loadConfig(
    'gateway',
    schema
      .superRefine(tokenTrustCheck({ jwks: 'GATEWAY_JWKS', issuers: 'GATEWAY_TOKEN_ISSUERS' }))
      .superRefine(internalKeyTrustCheck('GATEWAY_INTERNAL_SIGNING_KEY', 'signingKey'))
      .superRefine(artifactTrustCheck(['GATEWAY_POLICY_PUBLIC_KEY', 'GATEWAY_MANIFEST_PUBLIC_KEY']))
      .superRefine(acceptUnknownClientsCheck('GATEWAY_ACCEPT_UNKNOWN_CLIENTS')),
    env,
  );
}
