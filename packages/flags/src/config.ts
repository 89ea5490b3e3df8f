import { configFields, loadConfig } from '@coherence/platform';
import { z } from 'zod';
import { allFlagNames, defaultFlagStates, type FlagName } from './flagNames';

/**
 * `FLAGS_BOOTSTRAP`: the states a service starts with, before (or without)
 * Unleash, as `name=on|off` pairs, comma-separated; unnamed flags keep
 * {@link defaultFlagStates}.
 */
const bootstrapField = z
  .string()
  .default('')
  .transform((value, context) => {
    const states: Record<FlagName, boolean> = { ...defaultFlagStates };
    const pairs = value.split(',').map((part) => part.trim());
    for (const pair of pairs.filter((part) => part.length > 0)) {
      const [name, state] = pair.split('=').map((part) => part.trim());
      if (!allFlagNames.includes(name as FlagName) || (state !== 'on' && state !== 'off')) {
        context.addIssue({ code: 'custom', message: `"${pair}" is not <flag>=on|off with a flag of ${allFlagNames.join(', ')}` });
        continue;
      }
      states[name as FlagName] = state === 'on';
    }
    return states;
  });

/**
 * The variables of every service that reads flags; spread them into the
 * service's own config schema. Without `UNLEASH_URL` the service runs on the
 * bootstrap states alone (the documented stand-in for running without an
 * Unleash server); with it, `UNLEASH_API_TOKEN` (a backend/client token) is
 * required too, checked by {@link createFeatureFlags} at start.
 */
export const flagsConfigFields = {
  /** The Unleash API, e.g. `http://127.0.0.1:4242/api/`; unset: bootstrap states only. */
  UNLEASH_URL: configFields.url().optional(),
  /** A backend (client) API token of the project and environment to read. */
  UNLEASH_API_TOKEN: z.string().min(1).optional(),
  /** How often flags are fetched; bounds how fast a flipped kill switch takes effect. Default 1 000 ms. */
  UNLEASH_REFRESH_INTERVAL_MS: configFields.positiveInt(1_000),
  FLAGS_BOOTSTRAP: bootstrapField,
};

const flagsConfigSchema = z.object(flagsConfigFields);
export type FlagsConfig = z.output<typeof flagsConfigSchema>;

/** The flag variables alone, for a process whose config is nothing else (scripts, tests). */
export function readFlagsConfig(service: string, env?: Record<string, string | undefined>): FlagsConfig {
  return loadConfig(service, flagsConfigSchema, env);
}
