import { createLogger } from '@coherence/platform';
import { createTestDatabase, createUnleashAdmin, freePort, startUnleash, type TestDatabase } from '@coherence/devservices';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readFlagsConfig } from './config';
import { createFeatureFlags, type FeatureFlags } from './createFeatureFlags';
import type { FlagName } from './flagNames';

const logger = createLogger('flags-test', 'silent');
const refreshMs = 200;

/** Polls until `check` holds, or fails after `timeoutMs`. */
async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > giveUpAt) throw new Error('condition not met in time');
    await sleep(50);
  }
}

describe('createFeatureFlags without a reachable server', () => {
  it('starts on the bootstrap states and keeps them', async () => {
    const deadPort = await freePort();
    const flags = createFeatureFlags({
      config: readFlagsConfig('test', {
        UNLEASH_URL: `http://127.0.0.1:${deadPort}/api/`,
        UNLEASH_API_TOKEN: 'default:development.nothing',
        UNLEASH_REFRESH_INTERVAL_MS: String(refreshMs),
        FLAGS_BOOTSTRAP: 'v24.coherence=off,region-routing=on',
      }),
      appName: 'flags-test',
      logger,
    });
    try {
      expect(await flags.waitUntilSynchronized(1_000)).toBe(false);
      expect(flags.isEnabled('v24.coherence')).toBe(false);
      expect(flags.isEnabled('region-routing')).toBe(true);
    } finally {
      flags.close();
    }
  });
});

// Its own Unleash server (own database on the shared primary), since this test stops it.
describe('createFeatureFlags against a real Unleash server', () => {
  let database: TestDatabase;
  let rootDir: string;
  let unleash: Awaited<ReturnType<typeof startUnleash>>;
  let startOwnUnleash: () => Promise<Awaited<ReturnType<typeof startUnleash>>>;
  let flags: FeatureFlags;
  const metrics = new Registry();
  const changes: [FlagName, boolean][] = [];

  beforeAll(async () => {
    const services = inject('services');
    database = await createTestDatabase(services);
    rootDir = mkdtempSync(join(tmpdir(), 'coherence-unleash-'));
    const port = await freePort();
    const tokenSecrets = { admin: `${database.namespace}admin`, client: `${database.namespace}client` };
    startOwnUnleash = () =>
      startUnleash({
        port,
        postgres: services.postgres,
        database: `${database.namespace}_unleash`,
        logFile: join(rootDir, 'unleash.log'),
        flags: { 'v24.coherence': true, 'region-routing': false },
        tokenSecrets,
      });
    unleash = await startOwnUnleash();
    flags = createFeatureFlags({
      config: readFlagsConfig('test', {
        UNLEASH_URL: unleash.apiUrl,
        UNLEASH_API_TOKEN: unleash.clientToken,
        UNLEASH_REFRESH_INTERVAL_MS: String(refreshMs),
        // The opposite of the server, to see the server win.
        FLAGS_BOOTSTRAP: 'v24.coherence=off,region-routing=on',
      }),
      appName: 'flags-test',
      logger,
      metrics,
    });
    flags.onChange((name, enabled) => changes.push([name, enabled]));
  });

  afterAll(async () => {
    flags?.close();
    await unleash?.stop();
    await database?.drop();
    if (rootDir) rmSync(rootDir, { recursive: true, force: true });
  });

  it('replaces the bootstrap states with the server’s once synchronized, and reports each change', async () => {
    expect(await flags.waitUntilSynchronized(10_000)).toBe(true);
    expect(flags.isEnabled('v24.coherence')).toBe(true);
    expect(flags.isEnabled('region-routing')).toBe(false);
    expect(changes).toEqual(
      expect.arrayContaining([
        ['v24.coherence', true],
        ['region-routing', false],
      ]),
    );
  });

  it('follows a flag flipped through the admin API, and exports the state as a metric', async () => {
    changes.length = 0;
    await createUnleashAdmin(unleash).setFlag('v24.coherence', false);
    await eventually(() => !flags.isEnabled('v24.coherence'));
    expect(changes).toEqual([['v24.coherence', false]]);
    const exported = await metrics.getSingleMetricAsString('feature_flag_enabled');
    expect(exported).toContain('feature_flag_enabled{flag="v24.coherence"} 0');
    expect(exported).toContain('feature_flag_enabled{flag="region-routing"} 0');
    const lastSync = (await metrics.getSingleMetric('feature_flags_last_sync_timestamp_seconds')!.get()).values[0]!.value;
    expect(Date.now() / 1_000 - lastSync).toBeLessThan(5);
  });

  it('keeps the last known states while the server is gone, and follows it again when it is back', async () => {
    await createUnleashAdmin(unleash).setFlag('region-routing', true);
    await eventually(() => flags.isEnabled('region-routing'));
    changes.length = 0;
    await unleash.stop();
    // Many refresh intervals with every fetch failing.
    await sleep(refreshMs * 10);
    expect(flags.isEnabled('v24.coherence')).toBe(false);
    expect(flags.isEnabled('region-routing')).toBe(true);
    expect(changes).toEqual([]);

    unleash = await startOwnUnleash();
    await createUnleashAdmin(unleash).setFlag('v24.coherence', true);
    // The client backs off while the server is away; it must still come back on its own.
    await eventually(() => flags.isEnabled('v24.coherence'), 30_000);
    expect(flags.isEnabled('region-routing')).toBe(true);
  });
});
