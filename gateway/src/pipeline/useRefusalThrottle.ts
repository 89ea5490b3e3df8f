import { createRefusalThrottle, type RefusalThrottleOptions } from '@coherence/ratelimit';
import { Counter, type Registry } from 'prom-client';
import { refusal, type GatewayStep } from './GatewayStep';

/**
 * The refusals that are not the client's doing: the kill switch (an operator's)
 * and an unreachable dependency. A client polling through a kill switch or an
 * outage is behaving, and must get the 503 that says so, not a 429 from here,
 * nor stay throttled once the switch is back on (found by the kill-switch drill).
 */
const NOT_THE_CLIENTS_DOING: ReadonlySet<string> = new Set(['FEATURE_DISABLED', 'SERVICE_UNAVAILABLE']);

/**
 * Throttles client addresses that keep earning refusals, before any other
 * work (docs/adr/0009): every refusal of the pipeline (bad token, unknown
 * persisted id, policy denial, …) but the kill switch's and an outage's spends one from the address's bucket
 * ({@link createRefusalThrottle}); while it is empty, every request from
 * that address is RATE_LIMITED here: no token is verified, no tenant read
 * and no audit row queued for it.
 */
export function useRefusalThrottle(options: RefusalThrottleOptions & { metrics: Registry }): GatewayStep {
  const throttle = createRefusalThrottle(options);
  const throttled = new Counter({
    name: 'gateway_refusal_throttled_total',
    help: 'Requests refused RATE_LIMITED before authentication because their address kept earning refusals.',
    registers: [options.metrics],
  });

  return {
    name: 'refusal-throttle',
    span: false,
    onRequest(context) {
      const retryAfterSeconds = throttle.retryAfterSeconds(context.sourceIp);
      if (retryAfterSeconds === 0) return undefined;
      throttled.inc();
      return refusal('RATE_LIMITED', `too many refused requests from this address; retry in ${retryAfterSeconds} s`, {
        retryAfterSeconds,
      });
    },
    onRefused(context, refused) {
      // Its own 429s are not charged again, nor the limiter's: they are what the throttle and the limiter answer.
      if (refused.code === 'RATE_LIMITED' || NOT_THE_CLIENTS_DOING.has(refused.code)) return;
      throttle.charge(context.sourceIp);
    },
  };
}
