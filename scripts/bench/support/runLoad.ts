import autocannon from 'autocannon';

export interface LoadResult {
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Responses `verifyBody` refused (0 when the run has no `verifyBody`). */
  mismatches: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  /** Each run's own throughput, in order: how much the rounds of one target differ (the noise a ratio carries). */
  requestsPerSecondByRun: number[];
}

/** One autocannon run with every response's latency (autocannon's summary has no p95). */
export interface LoadSample {
  result: autocannon.Result;
  latenciesMs: number[];
}

export async function sampleLoad(options: autocannon.Options): Promise<LoadSample> {
  const latenciesMs: number[] = [];
  const result = await new Promise<autocannon.Result>((resolvePromise, reject) => {
    const instance = autocannon(options, (error, finished) => (error ? reject(error) : resolvePromise(finished)));
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => latenciesMs.push(responseTimeMs));
  });
  return { result, latenciesMs };
}

/** Several runs against the same target as one: counts and time added up, percentiles over all their responses. */
export function summarizeLoad(samples: readonly LoadSample[]): LoadResult {
  const latencies = samples.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
  const at = (q: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2));
  const total = (pick: (result: autocannon.Result) => number) => samples.reduce((sum, s) => sum + pick(s.result), 0);
  const seconds = total((r) => r.duration);
  const requests = total((r) => r.requests.total);
  return {
    requests,
    non2xx: total((r) => r.non2xx),
    errors: total((r) => r.errors),
    timeouts: total((r) => r.timeouts),
    mismatches: total((r) => r.mismatches),
    durationSeconds: Number(seconds.toFixed(2)),
    requestsPerSecond: Math.round(requests / seconds),
    latencyMs: { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) },
    requestsPerSecondByRun: samples.map(({ result }) => Math.round(result.requests.total / Math.max(result.duration, 0.001))),
  };
}

/** Runs autocannon once and summarizes it. */
export async function runLoad(options: autocannon.Options): Promise<LoadResult> {
  return summarizeLoad([await sampleLoad(options)]);
}
