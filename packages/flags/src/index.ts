export { flagNames, allFlagNames, defaultFlagStates, REGION_HINT_HEADER, type FlagName } from './flagNames';
export { flagsConfigFields, readFlagsConfig, type FlagsConfig } from './config';
export { createFeatureFlags, type FeatureFlags, type FeatureFlagsOptions, type FlagChangeListener } from './createFeatureFlags';
