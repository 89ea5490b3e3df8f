export { attachCoherenceSubscriptions, type CoherenceSubscriptionsOptions } from './attachCoherenceSubscriptions';
export { createCoherenceEventHub, type CoherenceEventHub, type CoherenceEventHubOptions } from './createCoherenceEventHub';
export { readSubscriptionConfig, type SubscriptionConfig } from './config';
// The subscription endpoint runs on its own in the fan-out benchmark and its end-to-end test.
export { createPersistedOperations, type PersistedOperations } from '../persisted/createPersistedOperations';
