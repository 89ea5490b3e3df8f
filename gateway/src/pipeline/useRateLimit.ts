import type { GatewayLimiter } from '../ratelimit/createGatewayLimiter';
import { assertReached, refusal, type GatewayStep } from './GatewayStep';

/** A tenant without a row in `tenants` has the share of weight 1. */
const UNREGISTERED_WEIGHT = 1;

/**
 * Spends one request of the tenant's share (docs/adr/0006). Wired after the
 * policy, so a refused request spends nothing; over the share is
 * RATE_LIMITED with `retryAfterSeconds`.
 */
export function useRateLimit(options: { limiter: GatewayLimiter }): GatewayStep {
  return {
    name: 'rate-limit',
    async onRequest(context) {
      assertReached(context, 'rate-limit', 'tenant');
      const { tenantId, record } = context.tenant;
      const admission = await options.limiter.admit(tenantId, record?.weight ?? UNREGISTERED_WEIGHT);
      if (admission.allowed) return undefined;
      return refusal('RATE_LIMITED', `over the tenant's request share; retry in ${admission.retryAfterSeconds} s`, {
        retryAfterSeconds: admission.retryAfterSeconds,
      });
    },
  };
}
