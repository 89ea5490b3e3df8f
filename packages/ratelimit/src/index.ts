export {
  createTenantRateLimiter,
  type RateLimitDecision,
  type TenantLimits,
  type TenantRateLimiter,
  type TenantRateLimiterOptions,
} from './createTenantRateLimiter';
