import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { refusal, type GatewayStep, type RequestContext } from './GatewayStep';
import { timeSteps } from './timeSteps';

const context = {} as RequestContext;

/** The histogram's count and sum for `step`. */
async function observed(histogram: Histogram<'step'>, step: string) {
  const { values } = await histogram.get();
  const of = (suffix: string) =>
    values.find((value) => value.metricName === `gateway_step_seconds${suffix}` && value.labels['step'] === step)?.value;
  return { count: of('_count') ?? 0, sum: of('_sum') ?? 0 };
}

describe('timeSteps', () => {
  const histogram = () =>
    new Histogram({ name: 'gateway_step_seconds', help: 'test', labelNames: ['step'] as const, registers: [new Registry()] });

  it("times each step's onRequest under its name, refused or not, and keeps what it answered", async () => {
    const seconds = histogram();
    const slow: GatewayStep = { name: 'slow', onRequest: () => new Promise((done) => setTimeout(() => done(undefined), 20)) };
    const refusing: GatewayStep = { name: 'refusing', span: false, onRequest: () => refusal('FORBIDDEN', 'no') };
    const [timedSlow, timedRefusing] = timeSteps([slow, refusing], seconds);
    expect(await timedSlow!.onRequest!(context)).toBeUndefined();
    expect(await timedRefusing!.onRequest!(context)).toEqual(refusal('FORBIDDEN', 'no'));
    expect(timedRefusing!.span).toBe(false);
    const slowObserved = await observed(seconds, 'slow');
    expect(slowObserved.count).toBe(1);
    expect(slowObserved.sum).toBeGreaterThanOrEqual(0.015);
    expect((await observed(seconds, 'refusing')).count).toBe(1);
  });

  it('times a step that throws, and lets the error through; a step without onRequest is left as it is', async () => {
    const seconds = histogram();
    const failing: GatewayStep = {
      name: 'failing',
      onRequest: () => {
        throw new Error('broken');
      },
    };
    const ending: GatewayStep = { name: 'ending', onEnd: () => undefined };
    const [timedFailing, timedEnding] = timeSteps([failing, ending], seconds);
    await expect(timedFailing!.onRequest!(context)).rejects.toThrow('broken');
    expect((await observed(seconds, 'failing')).count).toBe(1);
    expect(timedEnding).toBe(ending);
  });
});
