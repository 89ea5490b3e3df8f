import { describe, expect, it } from 'vitest';
import { chartPoints, formatInstant, timeAxis } from './HistoryChart';

const at = (minute: number) => Date.parse(`2026-11-27T05:${String(minute).padStart(2, '0')}:00Z`);

describe('chartPoints', () => {
  it('spans time across the width and puts a score of 1 at the top', () => {
    const points = [
      { at: at(0), score: 1, status: 'HEALTHY' as const },
      { at: at(10), score: 0.5, status: 'WARN' as const },
      { at: at(20), score: 0, status: 'CRITICAL' as const },
    ];
    expect(chartPoints(points)).toBe('0.0,0.0 150.0,50.0 300.0,100.0');
  });

  it('leaves out a change to no score, and draws a lone score as a level line', () => {
    const points = [
      { at: at(0), score: null, status: 'UNKNOWN' as const },
      { at: at(5), score: 0.25, status: 'CRITICAL' as const },
    ];
    expect(chartPoints(points)).toBe('0,75.0 300,75.0');
    expect(chartPoints([])).toBe('');
  });
});

describe('formatInstant', () => {
  it('writes UTC to the second', () => {
    expect(formatInstant(at(7) + 999)).toBe('2026-11-27 05:07:00 UTC');
  });
});

describe('timeAxis', () => {
  it('puts the date in the title when both ends fall on one UTC day, else on each end', () => {
    expect(timeAxis(at(1), at(9))).toEqual({ from: '05:01:00', to: '05:09:00', title: 'Time (UTC, 2026-11-27)' });
    expect(timeAxis(at(1) - 86_400_000, at(9))).toEqual({ from: '2026-11-26 05:01:00', to: '2026-11-27 05:09:00', title: 'Time (UTC)' });
  });
});
