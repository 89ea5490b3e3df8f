import { describe, expect, it } from 'vitest';
import { parseDuration, parseRates } from './commandLineValues';

describe('the drill command line', () => {
  it('reads durations in ms, s and m', () => {
    expect([parseDuration('500ms'), parseDuration('20s'), parseDuration('10m'), parseDuration('1.5s')]).toEqual([
      500, 20_000, 600_000, 1_500,
    ]);
  });

  it('refuses a duration without a unit or with another', () => {
    expect([parseDuration('20'), parseDuration('2h'), parseDuration('s'), parseDuration('-1s')]).toEqual([null, null, null, null]);
  });

  it('reads the rates given and leaves the others to their defaults', () => {
    expect(parseRates('http=50,kafka=500')).toEqual({ http: 50, kafka: 500 });
    expect(parseRates('reads=0, notifications=0.5')).toEqual({ reads: 0, notifications: 0.5 });
  });

  it('refuses an unknown kind or an unreadable rate', () => {
    expect([parseRates('grpc=5'), parseRates('http='), parseRates('http=-1'), parseRates('http')]).toEqual([null, null, null, null]);
  });
});
