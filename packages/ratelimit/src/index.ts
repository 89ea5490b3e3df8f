export {
  createTenantRateLimiter,
  type BucketSpend,
  type BucketsDecision,
  type RateLimitDecision,
  type TenantLimits,
  type TenantRateLimiter,
  type TenantRateLimiterOptions,
} from './createTenantRateLimiter';
export { createLocalGcra, type GcraBucket, type LocalGcra } from './createLocalGcra';
export { addressKey } from './addressKey';
export { createRefusalThrottle, type RefusalThrottle, type RefusalThrottleOptions } from './createRefusalThrottle';
