import { ConfigError, type Logger } from '@coherence/platform';
import type { EventEmitter } from 'node:events';
import { Gauge, type Registry } from 'prom-client';
import { InMemStorageProvider, Unleash, UnleashEvents } from 'unleash-client';
import type { FlagsConfig } from './config';
import { allFlagNames, type FlagName } from './flagNames';

export interface FeatureFlagsOptions {
  config: FlagsConfig;
  /** The service's name; Unleash lists connected applications by it. */
  appName: string;
  logger: Logger;
  /** `feature_flag_enabled{flag}` and `feature_flags_last_sync_timestamp_seconds` go here (the service's registry). */
  metrics?: Registry;
}

export type FlagChangeListener = (name: FlagName, enabled: boolean) => void;

export interface FeatureFlags {
  /** The flag's current state: the last one Unleash sent, else the bootstrap state. Synchronous and cheap: call it per request. */
  isEnabled(name: FlagName): boolean;
  /** Called once per flag whose state changed (not for the initial states); returns the unsubscribe function. */
  onChange(listener: FlagChangeListener): () => void;
  /** Resolves true once Unleash has answered, false after `timeoutMs` (the bootstrap states stay in force meanwhile); true at once without a server. */
  waitUntilSynchronized(timeoutMs: number): Promise<boolean>;
  /** Stops polling; the states stay readable. */
  close(): void;
}

/**
 * The services' view of the feature flags: `unleash-client` polling the
 * Unleash server, started from bootstrap states so a service starts (and
 * serves) with no server, and keeping the last known states when the server
 * goes away (the client keeps its last good answer and retries with backoff).
 * Without `UNLEASH_URL` the bootstrap states are all there is.
 *
 * The bootstrap states are given to the client as each flag's fallback
 * value rather than as its `bootstrap` data: with bootstrap data the client
 * reports itself synchronized before the server ever answered, and telling
 * the two apart is what `waitUntilSynchronized` and the sync metric are for.
 */
export function createFeatureFlags(options: FeatureFlagsOptions): FeatureFlags {
  const { config, logger } = options;
  const states = new Map<FlagName, boolean>(allFlagNames.map((name) => [name, config.FLAGS_BOOTSTRAP[name]]));
  const listeners = new Set<FlagChangeListener>();
  let lastSyncSeconds = 0;
  registerMetrics(options.metrics, states, () => lastSyncSeconds);

  if (config.UNLEASH_URL === undefined) {
    logger.info({ flags: Object.fromEntries(states) }, 'no UNLEASH_URL: feature flags stay at their bootstrap states');
    return {
      isEnabled: (name) => states.get(name)!,
      onChange: () => () => undefined,
      waitUntilSynchronized: async () => true,
      close: () => undefined,
    };
  }
  if (config.UNLEASH_API_TOKEN === undefined) {
    throw new ConfigError(options.appName, ['UNLEASH_API_TOKEN: required when UNLEASH_URL is set (a backend/client token)']);
  }

  const unleash = new Unleash({
    appName: options.appName,
    url: config.UNLEASH_URL,
    customHeaders: { Authorization: config.UNLEASH_API_TOKEN },
    refreshInterval: config.UNLEASH_REFRESH_INTERVAL_MS,
    // A fetch may not outlast the poll interval by much, or a hung server delays noticing it is back.
    timeout: Math.max(2_000, config.UNLEASH_REFRESH_INTERVAL_MS),
    // Usage counts would only feed Unleash's UI; our own state gauge goes to Prometheus.
    disableMetrics: true,
    // The default file backup would write to the OS temp dir; the last known states live in memory.
    storageProvider: new InMemStorageProvider(),
    skipInstanceCountWarning: true,
  });

  let fetchFailing = false;
  const markSynchronized = () => {
    lastSyncSeconds = Date.now() / 1_000;
    if (fetchFailing) logger.info('unleash answers again; feature flags follow it');
    fetchFailing = false;
  };
  const refreshStates = () => {
    for (const name of allFlagNames) {
      // Until the server answered, and for a flag it does not know (deleted, never created): the bootstrap state.
      const enabled = unleash.isEnabled(name, {}, config.FLAGS_BOOTSTRAP[name]);
      if (states.get(name) === enabled) continue;
      states.set(name, enabled);
      logger.info({ flag: name, enabled }, 'feature flag changed');
      for (const listener of listeners) listener(name, enabled);
    }
  };
  let synchronized = false;
  let announceSynchronized: () => void;
  const firstSync = new Promise<void>((resolve) => (announceSynchronized = resolve));
  // Without bootstrap data in the client, every change comes from the server.
  // The client evaluates flags only once its 'ready' (emitted on the next tick after 'changed') is through.
  unleash.on(UnleashEvents.Changed, () =>
    setImmediate(() => {
      markSynchronized();
      refreshStates();
      synchronized = true;
      announceSynchronized();
    }),
  );
  unleash.on(UnleashEvents.Unchanged, markSynchronized);
  // Without a listener an 'error' event would throw. One line per outage, not one per poll.
  unleash.on(UnleashEvents.Error, (error: unknown) => {
    if (!fetchFailing) logger.warn({ err: error }, 'unleash cannot be reached; feature flags keep their last known states');
    fetchFailing = true;
  });
  unleash.on(UnleashEvents.Warn, (message: unknown) => logger.debug({ detail: message }, 'unleash client warning'));

  return {
    isEnabled: (name) => states.get(name)!,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async waitUntilSynchronized(timeoutMs) {
      if (synchronized) return true;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const result = await Promise.race([firstSync.then(() => true), timedOut]);
      clearTimeout(timer);
      return result;
    },
    close() {
      unleash.destroy();
      // destroy() drops the repository's listeners, but a fetch still in flight
      // then emits 'error' on it, which throws (an unhandled rejection that
      // would end the process). Keep one listener for that last answer.
      (unleash as unknown as { repository: EventEmitter }).repository.on(UnleashEvents.Error, () => undefined);
    },
  };
}

function registerMetrics(registry: Registry | undefined, states: ReadonlyMap<FlagName, boolean>, lastSyncSeconds: () => number): void {
  if (!registry) return;
  new Gauge({
    name: 'feature_flag_enabled',
    help: 'State of each feature flag as this process applies it (1 on, 0 off).',
    labelNames: ['flag'],
    registers: [registry],
    collect() {
      for (const [flag, enabled] of states) this.set({ flag }, enabled ? 1 : 0);
    },
  });
  new Gauge({
    name: 'feature_flags_last_sync_timestamp_seconds',
    help: 'When Unleash last answered (0: never; the bootstrap states apply). Alert on its age: flags are frozen at their last known states.',
    registers: [registry],
    collect() {
      this.set(lastSyncSeconds());
    },
  });
}
