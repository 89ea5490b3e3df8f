import { artifactPublicKeyField, artifactTrustCheck } from '@coherence/auth';
import { COHERENCE_CHANGED_CHANNEL } from '@coherence/contracts';
import { flagsConfigFields } from '@coherence/flags';
import { configFields, loadConfig, subgraphConfigCheck, subgraphConfigFields } from '@coherence/platform';
import { z } from 'zod';

const schema = z
  .object({
    COMMS_PORT: configFields.port(4003),
    COMMS_HOST: configFields.host(),
    /** The inbound provider webhooks' own listener (the only port to expose to the internet; COMMS_PORT is for the gateway). */
    COMMS_INBOUND_PORT: configFields.port(4013),
    COMMS_INBOUND_HOST: configFields.host(),
    /** `/healthz`, `/readyz`, `/metrics` of both listeners: for probes and the scraper only, never exposed (docs/adr/0016-admin-listeners.md). */
    COMMS_ADMIN_PORT: configFields.port(4103),
    COMMS_ADMIN_HOST: configFields.host(),
    /** Connects as comms_app: row-level security applies (docs/adr/0015). */
    COMMS_DATABASE_URL: configFields.url(),
    /** Connects as comms_admin, the tenant-admin API's writer (docs/adr/0031); unset ⇒ its fields answer TENANT_ADMIN_DISABLED. */
    COMMS_ADMIN_DATABASE_URL: configFields.url().optional(),
    /** CIDRs webhook contacts may point at although not public (e.g. 127.0.0.1/32 in tests), as the worker's. Explicit; empty by default. */
    COMMS_SSRF_ALLOW: configFields.commaList(),
    /** Twilio auth token that signs inbound webhooks; unset ⇒ every inbound request is refused. */
    COMMS_TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
    /** Scheme + host Twilio calls (signatures cover that URL); required with COMMS_TWILIO_AUTH_TOKEN, never taken from the request. */
    COMMS_PUBLIC_URL: z
      .url()
      .transform((url) => url.replace(/\/+$/, ''))
      .optional(),
    ...subgraphConfigFields,
    LOG_LEVEL: configFields.logLevel(),
  })
  .refine((c) => c.COMMS_TWILIO_AUTH_TOKEN === undefined || c.COMMS_PUBLIC_URL !== undefined, {
    path: ['COMMS_PUBLIC_URL'],
    message:
      'is required with COMMS_TWILIO_AUTH_TOKEN: signatures cover the URL Twilio calls, which a request (its Host) cannot be trusted to tell',
  });

export type CommsConfig = ReturnType<typeof readCommsConfig>;

export function readCommsConfig(env?: Record<string, string | undefined>) {
  return loadConfig('comms', schema.superRefine(subgraphConfigCheck), env);
}

/**
 * What the lease must leave beyond the delivery timeout: the handler renews
 * the lease right before its POST, and the delivery record and the final
 * transition must still fit after a POST that used its whole timeout.
 */
export const LEASE_MARGIN_MS = 10_000;

const workerSchema = z
  .object({
    /** The worker serves no API: its only listener is the admin one (/healthz, /readyz, /metrics). */
    COMMS_WORKER_ADMIN_PORT: configFields.port(4112),
    COMMS_WORKER_ADMIN_HOST: configFields.host(),
    /** comms_app; the worker takes operator access to COMMS_REGION's tenants per transaction. */
    COMMS_DATABASE_URL: configFields.url(),
    /** Where `CoherenceChanged` arrives; unset ⇒ the worker only runs commands. */
    REDIS_URL: configFields.url().optional(),
    COHERENCE_CHANGED_CHANNEL: z.string().min(1).default(COHERENCE_CHANGED_CHANNEL),
    /** Commands run at the same time. */
    COMMS_WORKER_CONCURRENCY: configFields.positiveInt(8),
    /** Claim lease, renewed before each POST; at least COMMS_WEBHOOK_TIMEOUT_MS + LEASE_MARGIN_MS. */
    COMMS_LEASE_MS: configFields.positiveInt(30_000),
    /** Fallback poll when no NOTIFY wakes the worker. */
    COMMS_POLL_MS: configFields.positiveInt(1_000),
    /** At shutdown, how long in-flight commands may finish before they are released. */
    COMMS_DRAIN_MS: configFields.positiveInt(10_000),
    /** `false` ⇒ polling only (benchmarks, a database without LISTEN). */
    COMMS_LISTEN_NOTIFY: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
    COMMS_RETRY_BASE_MS: configFields.positiveInt(1_000),
    COMMS_RETRY_MAX_MS: configFields.positiveInt(300_000),
    /** Attempts per notification before troubleshooting. */
    COMMS_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
    COMMS_WEBHOOK_TIMEOUT_MS: configFields.positiveInt(10_000),
    /** At start and after the Redis subscription comes back: replay the changes of this many past minutes (handled ones create nothing). */
    COMMS_CATCH_UP_MINUTES: configFields.positiveInt(60),
    /** CIDRs deliveries may reach although not public (e.g. 127.0.0.1/32 in tests). Explicit; empty by default. */
    COMMS_SSRF_ALLOW: configFields.commaList(),
    /** The region this worker serves: it claims the commands of the tenants residing there only (docs/adr/0015); stored with quiet-hours decisions. */
    COMMS_REGION: configFields.region().default('us'),
    /** Quiet-hours bundle folder; unset ⇒ the committed policy/comms/bundle. */
    COMMS_POLICY_BUNDLE_DIR: z.string().min(1).optional(),
    /** The public key (PEM or JWK file) the quiet-hours bundle must be signed with. Default: the dev key, refused in production. */
    COMMS_POLICY_PUBLIC_KEY: artifactPublicKeyField(),
    /** `production` refuses the dev artifact key at start. */
    NODE_ENV: z.string().optional(),
    LOG_LEVEL: configFields.logLevel(),
    /** `comms.notifications` off pauses delivery (UNLEASH_URL, FLAGS_BOOTSTRAP, …). */
    ...flagsConfigFields,
  })
  .refine((c) => c.COMMS_LEASE_MS >= c.COMMS_WEBHOOK_TIMEOUT_MS + LEASE_MARGIN_MS, {
    path: ['COMMS_LEASE_MS'],
    message: `must be at least COMMS_WEBHOOK_TIMEOUT_MS + ${LEASE_MARGIN_MS} ms, or a slow delivery could run twice`,
  })
  .superRefine(artifactTrustCheck(['COMMS_POLICY_PUBLIC_KEY']));

export type CommsWorkerConfig = ReturnType<typeof readCommsWorkerConfig>;

export function readCommsWorkerConfig(env?: Record<string, string | undefined>) {
  return loadConfig('comms-worker', workerSchema, env);
}
