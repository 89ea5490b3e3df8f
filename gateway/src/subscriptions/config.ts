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
  /**
   * A socket not authenticated by then (connection_init sent and its token verified) is closed with 4408: an
   * idle socket holds memory and an address slot. Default 5 s, ample for a client that connects to subscribe.
   */
  GATEWAY_WS_INIT_TIMEOUT_MS: configFields.positiveInt(5_000),
  /**
   * Open sockets per client address, counted before the upgrade (over it: HTTP 429). Default 20: a few browser
   * tabs or a service's pool behind one NAT, while one host cannot hold thousands of sockets. Raise it behind a
   * proxy that is the only address the gateway sees.
   */
  GATEWAY_WS_MAX_CONNECTIONS_PER_ADDRESS: configFields.positiveInt(20),
  /** Authenticated sockets per tenant (the token's); over it the socket is closed with 4429. Default 100: a tenant's dashboards, not a flood. */
  GATEWAY_WS_MAX_CONNECTIONS_PER_TENANT: configFields.positiveInt(100),
  /** Live subscriptions on one socket; over it a subscribe is RATE_LIMITED. Default 10: a client follows one tenant, a few views at most. */
  GATEWAY_WS_MAX_SUBSCRIPTIONS_PER_SOCKET: configFields.positiveInt(10),
  /**
   * Live subscriptions per tenant (the token's), over all its sockets; over it a subscribe is RATE_LIMITED.
   * Default 200: two per allowed connection, so one tenant cannot hold the 1 000 the two caps above would allow.
   */
  GATEWAY_WS_MAX_SUBSCRIPTIONS_PER_TENANT: configFields.positiveInt(200),
};

const schema = z.object(subscriptionConfigFields);

export type SubscriptionConfig = z.output<typeof schema>;

/** The settings of a stand-alone `coherenceEvents` endpoint (the fan-out benchmark); the gateway reads them with its own config. */
export function readSubscriptionConfig(env?: Record<string, string | undefined>) {
  return loadConfig('gateway-subscriptions', schema, env);
}
