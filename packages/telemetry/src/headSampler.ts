import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from '@opentelemetry/sdk-trace';

/** The ratio of new traces kept when `OTEL_TRACES_SAMPLER_ARG` is not set (docs/adr/0020-traces.md). */
export const DEFAULT_SAMPLING_RATIO = 0.15;

/**
 * The head sampler the standard variables ask for: `OTEL_TRACES_SAMPLER`
 * (default `parentbased_traceidratio`, not the SDK's `parentbased_always_on`)
 * and `OTEL_TRACES_SAMPLER_ARG` (the ratio, default 0.15). A caller's sampled
 * flag decides for the spans of its trace; only new traces are drawn.
 */
export function headSampler(env: NodeJS.ProcessEnv = process.env): Sampler {
  const name = env['OTEL_TRACES_SAMPLER'] ?? 'parentbased_traceidratio';
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(samplingRatio(env));
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(samplingRatio(env)) });
    default:
      throw new Error(
        `OTEL_TRACES_SAMPLER=${name} is not supported: use always_on, always_off, traceidratio or parentbased_{always_on,always_off,traceidratio}`,
      );
  }
}

function samplingRatio(env: NodeJS.ProcessEnv): number {
  const text = env['OTEL_TRACES_SAMPLER_ARG'];
  if (text === undefined || text === '') return DEFAULT_SAMPLING_RATIO;
  const ratio = Number(text);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new Error(`OTEL_TRACES_SAMPLER_ARG=${text} is not a ratio in [0, 1]`);
  return ratio;
}
