import type { Principal } from '@coherence/auth';
import type { GatewayLimiter, LimiterBucket } from '../ratelimit/createGatewayLimiter';
import { assertReached, refusal, type GatewayStep } from './GatewayStep';

/** A tenant without a row in `tenants` has the share of weight 1. */
const UNREGISTERED_WEIGHT = 1;

/**
 * Whose bucket a request is charged to: the token's subject, within its
 * issuer and its own tenant. Not the client id: every user of one app shares
 * it (and every dev and test token has `dev-cli`). JSON keeps the parts
 * apart whatever characters they hold.
 */
const callerId = (principal: Principal): string => JSON.stringify([principal.issuer, principal.tenantId, principal.subject]);

const SHARE: Record<LimiterBucket, string> = { caller: "the caller's", tenant: "the tenant's" };

/**
 * Spends the operation's declared cost (costs.json, scaled by its list
 * argument) of the caller's and the tenant's shares (docs/adr/0006). Wired
 * after the policy, so a refused request spends nothing; over either share
 * is RATE_LIMITED with `retryAfterSeconds`, and neither is charged.
 */
export function useRateLimit(options: { limiter: GatewayLimiter }): GatewayStep {
  return {
    name: 'rate-limit',
    async onRequest(context) {
      assertReached(context, 'rate-limit', 'principal', 'operation', 'variables', 'tenant');
      const { principal, tenant } = context;
      const admission = await options.limiter.admit({
        tenant: { id: tenant.tenantId, weight: tenant.record?.weight ?? UNREGISTERED_WEIGHT, registered: tenant.record !== undefined },
        caller: { id: callerId(principal), ownTenant: principal.tenantId === tenant.tenantId },
        cost: context.operation.cost(context.variables),
      });
      if (admission.allowed) return undefined;
      const over = admission.limitedBy.map((bucket) => SHARE[bucket]).join(' and ');
      return refusal('RATE_LIMITED', `over ${over} request share; retry in ${admission.retryAfterSeconds} s`, {
        retryAfterSeconds: admission.retryAfterSeconds,
      });
    },
  };
}
