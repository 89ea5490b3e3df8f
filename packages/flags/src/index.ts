export { flagNames, allFlagNames, defaultFlagStates, type FlagName } from './flagNames';
export { flagsConfigFields, readFlagsConfig, type FlagsConfig } from './config';
export { createFeatureFlags, type FeatureFlags, type FeatureFlagsOptions, type FlagChangeListener } from './createFeatureFlags';
