import { ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SAMPLING_RATIO, headSampler } from './headSampler';

/** The share of `count` new traces (random ids) a sampler keeps. */
function keptShare(env: NodeJS.ProcessEnv, count = 10_000): number {
  const sampler = headSampler(env);
  let kept = 0;
  for (let i = 0; i < count; i += 1) {
    const traceId = randomBytes(16).toString('hex');
    if (sampler.shouldSample(ROOT_CONTEXT, traceId, 'span', SpanKind.SERVER, {}, []).decision === SamplingDecision.RECORD_AND_SAMPLED)
      kept += 1;
  }
  return kept / count;
}

describe('headSampler', () => {
  it('keeps 15 % of new traces by default, and the ratio OTEL_TRACES_SAMPLER_ARG asks for', () => {
    expect(DEFAULT_SAMPLING_RATIO).toBe(0.15);
    expect(Math.abs(keptShare({}) - 0.15)).toBeLessThan(0.02);
    expect(Math.abs(keptShare({ OTEL_TRACES_SAMPLER_ARG: '0.5' }) - 0.5)).toBeLessThan(0.03);
    expect(keptShare({ OTEL_TRACES_SAMPLER: 'always_off' })).toBe(0);
  });

  it("follows the caller's sampled flag", () => {
    const sampler = headSampler({ OTEL_TRACES_SAMPLER_ARG: '0' });
    const parent = (traceFlags: number) =>
      trace.setSpanContext(ROOT_CONTEXT, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags, isRemote: true });
    const decide = (traceFlags: number) => sampler.shouldSample(parent(traceFlags), 'a'.repeat(32), 's', SpanKind.SERVER, {}, []).decision;
    expect(decide(TraceFlags.SAMPLED)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(TraceFlags.NONE)).toBe(SamplingDecision.NOT_RECORD);
  });

  it('refuses a sampler or a ratio it does not know', () => {
    expect(() => headSampler({ OTEL_TRACES_SAMPLER: 'jaeger_remote' })).toThrow(/not supported/);
    expect(() => headSampler({ OTEL_TRACES_SAMPLER_ARG: '1.5' })).toThrow(/not a ratio/);
  });
});
