export {
  createTenantRateLimiter,
  type RateLimitDecision,
  type TenantLimits,
  type TenantRateLimiter,
  type TenantRateLimiterOptions,
} from './createTenantRateLimiter';
export { createLocalGcra, type GcraResult, type LocalGcra } from './createLocalGcra';
