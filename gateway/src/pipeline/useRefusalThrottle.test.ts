import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { refusal, runRequestSteps, type GatewayStep } from './GatewayStep';
import { testContext } from './testContext';
import { useRefusalThrottle } from './useRefusalThrottle';

/** The throttle (2 refusals/s, burst 3) in front of a step that refuses or admits as told, on a clock the test moves. */
function pipeline() {
  let nowMs = 1_000;
  let refuseWith: 'UNAUTHENTICATED' | 'RATE_LIMITED' | 'FEATURE_DISABLED' | 'SERVICE_UNAVAILABLE' | undefined = 'UNAUTHENTICATED';
  let reachedBehind = 0;
  const behind: GatewayStep = {
    name: 'behind',
    onRequest: () => {
      reachedBehind += 1;
      return refuseWith && refusal(refuseWith, 'no');
    },
  };
  const metrics = new Registry();
  const steps = [useRefusalThrottle({ refusalsPerSecond: 2, burst: 3, metrics, nowMs: () => nowMs }), behind];
  return {
    send: (sourceIp = '203.0.113.1') => runRequestSteps(steps, testContext({ sourceIp })),
    refuseWith: (code: typeof refuseWith) => void (refuseWith = code),
    advance: (ms: number) => void (nowMs += ms),
    reachedBehind: () => reachedBehind,
    throttled: async () => (await metrics.getSingleMetric('gateway_refusal_throttled_total')!.get()).values[0]?.value,
  };
}

describe('useRefusalThrottle', () => {
  it('answers 429 before any other step once an address has spent its burst of refusals, and lets it in again when refilled', async () => {
    const p = pipeline();
    for (let i = 0; i < 3; i += 1) expect(await p.send()).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(p.reachedBehind()).toBe(3);
    const throttled = await p.send();
    expect(throttled).toEqual({
      code: 'RATE_LIMITED',
      message: 'too many refused requests from this address; retry in 1 s',
      extensions: { retryAfterSeconds: 1 },
    });
    // Refused by the throttle itself: the steps behind it did no work.
    expect(p.reachedBehind()).toBe(3);
    expect(await p.throttled()).toBe(1);
    p.advance(500);
    expect(await p.send()).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await p.send()).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('throttles by address: another address is not affected, and every address of one IPv6 /64 is one', async () => {
    const p = pipeline();
    for (let i = 0; i < 3; i += 1) await p.send('2001:db8:1:2::1');
    expect(await p.send('2001:db8:1:2::ffff')).toMatchObject({ code: 'RATE_LIMITED' });
    expect(await p.send('2001:db8:1:3::1')).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await p.send('203.0.113.2')).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('never charges admitted requests, nor the 429s the limiter answers', async () => {
    const p = pipeline();
    p.refuseWith(undefined);
    for (let i = 0; i < 100; i += 1) expect(await p.send()).toBeUndefined();
    p.refuseWith('RATE_LIMITED');
    for (let i = 0; i < 100; i += 1) await p.send();
    p.refuseWith('UNAUTHENTICATED');
    expect(await p.send()).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await p.throttled()).toBe(0);
  });

  it('never charges the kill switch or an unreachable dependency: a client polling through them gets their 503, not a 429', async () => {
    const p = pipeline();
    for (const code of ['FEATURE_DISABLED', 'SERVICE_UNAVAILABLE'] as const) {
      p.refuseWith(code);
      for (let i = 0; i < 50; i += 1) expect(await p.send()).toMatchObject({ code });
    }
    expect(await p.throttled()).toBe(0);
    // Once the switch is back on, the address has its whole burst.
    p.refuseWith('UNAUTHENTICATED');
    for (let i = 0; i < 3; i += 1) expect(await p.send()).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await p.send()).toMatchObject({ code: 'RATE_LIMITED' });
  });
});
