import { describe, expect, it } from 'vitest';
import { MIN_SHARE, shareFactor } from './shareFactor';

const calm = { inFlight: 10, maxInFlight: 100, loopDelayMs: 5, maxLoopDelayMs: 100 };

describe('shareFactor', () => {
  it('is 1 while under both bounds, including at a bound', () => {
    expect(shareFactor(calm)).toBe(1);
    expect(shareFactor({ ...calm, inFlight: 100, loopDelayMs: 100 })).toBe(1);
  });

  it('shrinks by the worst overshoot of in-flight requests or event-loop delay', () => {
    expect(shareFactor({ ...calm, inFlight: 200 })).toBe(0.5);
    expect(shareFactor({ ...calm, loopDelayMs: 400 })).toBe(0.25);
    expect(shareFactor({ ...calm, inFlight: 200, loopDelayMs: 400 })).toBe(0.25);
  });

  it('never goes below the floor', () => {
    expect(shareFactor({ ...calm, inFlight: 1_000_000 })).toBe(MIN_SHARE);
  });
});
