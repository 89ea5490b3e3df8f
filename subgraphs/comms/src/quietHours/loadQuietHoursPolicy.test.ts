import { expect, it } from 'vitest';
import { localMinute } from './createQuietHoursGate';
import { loadQuietHoursPolicy } from './loadQuietHoursPolicy';

// The committed Wasm (policy/comms/bundle), not the Rego: what the worker runs.
const policy = await loadQuietHoursPolicy();
const night = { startMinute: 22 * 60, endMinute: 7 * 60 };

it('defers inside a window across midnight until it ends', () => {
  expect(policy.evaluate({ localMinute: 23 * 60, quietHours: night })).toMatchObject({
    allow: false,
    reasonCode: 'QUIET_HOURS',
    deferMinutes: 8 * 60,
  });
  expect(policy.evaluate({ localMinute: 6 * 60 + 59, quietHours: night })).toMatchObject({ allow: false, deferMinutes: 1 });
});

it('allows outside the window and without quiet hours', () => {
  expect(policy.evaluate({ localMinute: 7 * 60, quietHours: night })).toMatchObject({ allow: true, reasonCode: 'ALLOWED' });
  expect(policy.evaluate({ localMinute: 3 * 60, quietHours: null })).toMatchObject({ allow: true });
});

it('denies malformed input', () => {
  expect(policy.evaluate({ localMinute: 2_000, quietHours: night })).toMatchObject({ allow: false, reasonCode: 'POLICY_ERROR' });
});

it('reads the local minute in the tenant time zone', () => {
  const at = new Date('2026-01-15T12:30:00Z');
  expect(localMinute(at, 'UTC')).toBe(12 * 60 + 30);
  expect(localMinute(at, 'Asia/Tokyo')).toBe(21 * 60 + 30);
  expect(localMinute(at, 'America/New_York')).toBe(7 * 60 + 30);
});
