import { ConfigError } from '@coherence/platform';
import { describe, expect, it } from 'vitest';
import { readFlagsConfig } from './config';
import { defaultFlagStates } from './flagNames';

describe('readFlagsConfig', () => {
  it('runs on the default states without Unleash, and polls every second by default', () => {
    const config = readFlagsConfig('test', {});
    expect(config.UNLEASH_URL).toBeUndefined();
    expect(config.FLAGS_BOOTSTRAP).toEqual(defaultFlagStates);
    expect(config.UNLEASH_REFRESH_INTERVAL_MS).toBe(1_000);
  });

  it('takes bootstrap states as name=on|off pairs over the defaults', () => {
    const config = readFlagsConfig('test', { FLAGS_BOOTSTRAP: ' region-routing=on , v24.coherence=off' });
    expect(config.FLAGS_BOOTSTRAP).toEqual({ 'v24.coherence': false, 'region-routing': true, 'comms.notifications': true });
  });

  it('reports every bad pair and a bad URL together', () => {
    const read = () => readFlagsConfig('test', { FLAGS_BOOTSTRAP: 'nope=on,region-routing=maybe', UNLEASH_URL: 'not a url' });
    expect(read).toThrow(ConfigError);
    try {
      read();
    } catch (error) {
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toContain('"nope=on"');
      expect(problems).toContain('"region-routing=maybe"');
      expect(problems).toContain('UNLEASH_URL');
    }
  });
});
