import { expect, it } from 'vitest';
import { retryDelayMs } from './backoff';

const options = { baseMs: 1_000, maxMs: 30_000 };

it('doubles per attempt, keeps half of it fixed, and caps at maxMs', () => {
  expect(retryDelayMs(1, options, () => 0)).toBe(500);
  expect(retryDelayMs(1, options, () => 1)).toBe(1_000);
  expect(retryDelayMs(3, options, () => 0)).toBe(2_000);
  expect(retryDelayMs(3, options, () => 1)).toBe(4_000);
  expect(retryDelayMs(20, options, () => 1)).toBe(30_000);
  expect(retryDelayMs(20, options, () => 0)).toBe(15_000);
});

it('spreads retries of the same attempt (jitter)', () => {
  const delays = new Set(Array.from({ length: 50 }, () => retryDelayMs(4, options)));
  expect(delays.size).toBeGreaterThan(10);
  for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(4_000);
});
