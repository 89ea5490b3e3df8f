import { COHERENCE_CHANGED_CHANNEL } from '@coherence/contracts';
import { configFields, loadConfig } from '@coherence/platform';
import { z } from 'zod';

/** The `coherenceEvents` endpoint's settings; part of the gateway's config (gateway/src/config.ts). */
export const subscriptionConfigFields = {
  /** Redis for the response cache, the per-tenant limiter and `CoherenceChanged` (the relay publishes there). */
  GATEWAY_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .default('redis://127.0.0.1:6379'),
  /** The pub/sub channel of `CoherenceChanged`: feeds subscriptions and invalidates cached reads. Tests prefix it with their namespace. */
  COHERENCE_CHANGED_CHANNEL: z.string().min(1).default(COHERENCE_CHANGED_CHANNEL),
  /** Changes of one tenant within this window go out as one event (the latest). */
  GATEWAY_SUBSCRIPTION_COALESCE_MS: configFields.positiveInt(100),
  /** Connections that have not sent connection_init by then are closed. */
  GATEWAY_SUBSCRIPTION_INIT_TIMEOUT_MS: configFields.positiveInt(5_000),
};

const schema = z.object(subscriptionConfigFields);

export type SubscriptionConfig = z.output<typeof schema>;

/** The settings of a stand-alone `coherenceEvents` endpoint (the fan-out benchmark); the gateway reads them with its own config. */
export function readSubscriptionConfig(env?: Record<string, string | undefined>) {
  return loadConfig('gateway-subscriptions', schema, env);
}
