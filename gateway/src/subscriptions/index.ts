export { attachCoherenceSubscriptions, type CoherenceSubscriptionsOptions } from './attachCoherenceSubscriptions';
export { createCoherenceEventHub, type CoherenceEventHub, type CoherenceEventHubOptions } from './createCoherenceEventHub';
export { readSubscriptionConfig, type SubscriptionConfig } from './config';
// The subscription endpoint runs on its own in the fan-out benchmark and its end-to-end test.
export { createPersistedOperations, type PersistedOperations } from '../persisted/createPersistedOperations';
// The fan-out endpoint runs the same steps as the gateway's subscriptions, with the real policy.
export { useAuthentication } from '../pipeline/useAuthentication';
export { usePersistedOperation } from '../pipeline/usePersistedOperation';
export { usePolicy } from '../pipeline/usePolicy';
export { useTenant, type TenantSource } from '../pipeline/useTenant';
export { createAuthorizer } from '../policy/createAuthorizer';
export { createSecurityMetrics } from '../createSecurityMetrics';
export { createOriginAllowList } from '../browser/originAllowList';
