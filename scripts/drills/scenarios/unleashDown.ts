import { flagNames } from '@coherence/flags';
import type { Scenario } from '../scenario';
import { readMetric, seen } from './support/metrics';

/** The Unleash server stopped (docs/runbooks/drills/unleash-down.md). */
export const unleashDown: Scenario = {
  name: 'unleash-down',
  summary: 'Unleash stopped: every service holds its last-known flags; the kill switch still works from the bootstrap (env)',
  promises: { no5xx: true },
  inject: (context) => context.dependencies.unleash.stop(),
  async observe(context) {
    const lastSync = await readMetric(context, 'gateway', 'feature_flags_last_sync_timestamp_seconds');
    return seen({
      'gateway flags last synced (s ago)': lastSync === undefined ? undefined : Math.round(Date.now() / 1000 - lastSync),
      [`kill switch ${flagNames.coherence} held`]: await readMetric(context, 'gateway', 'feature_flag_enabled', {
        flag: flagNames.coherence,
      }),
    });
  },
  heal: (context) => context.dependencies.unleash.start(),
};
