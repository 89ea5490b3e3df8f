import { COHERENCE_CHANGED_CHANNEL } from '@coherence/contracts';
import { configFields, loadConfig } from '@coherence/platform';
import { z } from 'zod';

const schema = z.object({
  /** Redis carrying `CoherenceChanged` (the relay publishes there). Connected on the first subscription. */
  GATEWAY_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .default('redis://127.0.0.1:6379'),
  /** The pub/sub channel; tests prefix it with their namespace. */
  COHERENCE_CHANGED_CHANNEL: z.string().min(1).default(COHERENCE_CHANGED_CHANNEL),
  /** Changes of one tenant within this window go out as one event (the latest). */
  GATEWAY_SUBSCRIPTION_COALESCE_MS: configFields.positiveInt(100),
  /** Connections that have not sent connection_init by then are closed. */
  GATEWAY_SUBSCRIPTION_INIT_TIMEOUT_MS: configFields.positiveInt(5_000),
});

export type SubscriptionConfig = ReturnType<typeof readSubscriptionConfig>;

/** The `coherenceEvents` endpoint's settings (read once at start, like every config). */
export function readSubscriptionConfig(env?: Record<string, string | undefined>) {
  return loadConfig('gateway-subscriptions', schema, env);
}
