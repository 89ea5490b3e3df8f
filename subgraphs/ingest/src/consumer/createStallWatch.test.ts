import { describe, expect, it } from 'vitest';
import { createStallWatch } from './createStallWatch';

function watchWithClock(stallSeconds = 60) {
  let nowMs = 0;
  const watch = createStallWatch({ stallSeconds, now: () => nowMs });
  return { watch, advance: (seconds: number) => (nowMs += seconds * 1_000) };
}

describe('createStallWatch', () => {
  it('is not stalled while idle, however long', () => {
    const { watch, advance } = watchWithClock();
    advance(3_600);
    expect(watch.progress()).toEqual({ stalled: false, secondsWithoutProgress: 3_600, pendingRecords: 0 });
  });

  it('starts the clock when records appear after an idle spell, and stalls after stallSeconds without a commit', () => {
    const { watch, advance } = watchWithClock();
    advance(3_600);
    watch.noteLag('t', 0, 5);
    expect(watch.progress().stalled).toBe(false);
    advance(59);
    expect(watch.progress().stalled).toBe(false);
    advance(1);
    expect(watch.progress()).toEqual({ stalled: true, secondsWithoutProgress: 60, pendingRecords: 5 });
  });

  it('is not stalled while commits keep coming, and clears once the lag is gone', () => {
    const { watch, advance } = watchWithClock();
    watch.noteLag('t', 0, 1_000);
    for (let i = 0; i < 10; i += 1) {
      advance(30);
      watch.noteLag('t', 0, 1_000 - i * 100);
      watch.noteProgress();
      expect(watch.progress().stalled).toBe(false);
    }
    advance(120);
    watch.noteLag('t', 0, 0);
    expect(watch.progress()).toMatchObject({ stalled: false, pendingRecords: 0 });
  });

  it('forgets the lags of partitions it no longer owns after a rebalance', () => {
    const { watch, advance } = watchWithClock();
    watch.noteLag('t', 2, 7);
    watch.forgetPartitions();
    advance(120);
    expect(watch.progress()).toMatchObject({ stalled: false, pendingRecords: 0 });
  });
});
