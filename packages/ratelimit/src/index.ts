export {
  createTenantRateLimiter,
  type RateLimitDecision,
  type TenantRateLimiter,
  type TenantRateLimiterOptions,
} from './createTenantRateLimiter';
