import { describe, expect, it } from 'vitest';
import { parseDurationMs } from './backupRestore';

describe('parseDurationMs', () => {
  it('reads milliseconds, seconds and minutes', () => {
    expect([parseDurationMs('1500ms'), parseDurationMs('20s'), parseDurationMs('2.5m')]).toEqual([1_500, 20_000, 150_000]);
  });

  it('refuses a number without a unit and anything else', () => {
    for (const text of ['20', '20 s', '-5s', '1h', 's']) expect(parseDurationMs(text)).toBeNaN();
  });
});
