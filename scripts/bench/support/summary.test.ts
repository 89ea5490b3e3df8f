import { describe, expect, it } from 'vitest';
import { figureTable, issue18Figures, type FanoutReport, type GatewayReport, type GoldenReport, type IngestReport } from './summary';

const load = (requestsPerSecond: number, p95: number, failed = 0) => ({
  requestsPerSecond,
  non2xx: failed,
  errors: 0,
  timeouts: 0,
  durationSeconds: 60,
  latencyMs: { p95 },
});
const ingest: IngestReport = { baselineHealthz: load(3_000, 10), singleSignal: { ...load(2_990, 42), targetRequestsPerSecond: 3_000 } };
const gateway: GatewayReport = {
  setup: { spreadTenants: 1_000 },
  results: [
    { key: 'apollo', label: 'plain Apollo', ...load(200, 40) },
    { key: 'hive', label: 'Hive Gateway', ...load(500, 20) },
    { key: 'coherence-cache-on', label: 'cache on', ...load(1_600, 5) },
    { key: 'coherence-cache-off', label: 'cache off', ...load(250, 30) },
    { key: 'spread-apollo', label: 'plain Apollo, 1000 tenants', ...load(180, 45) },
    { key: 'spread-hive', label: 'Hive Gateway, 1000 tenants', ...load(300, 25) },
    { key: 'spread-coherence-cache-off', label: 'cache off, 1000 tenants', ...load(234, 35) },
  ],
};
const fanout: FanoutReport = { subscribers: 1_000, expectedDeliveries: 20_000, delivered: 20_000, clientLatencyMs: { p95: 180 } };
const golden: GoldenReport = { judged: { seconds: [30, 31, 32], meanSeconds: 31, spreadPercent: 3.23 } };
const byName = (figures: ReturnType<typeof issue18Figures>) => new Map(figures.map((f) => [f.figure, f]));

describe('issue18Figures', () => {
  it('judges each figure against its target with the same-run baseline', () => {
    const figures = byName(issue18Figures({ ingest, gateway, fanout, golden }));
    expect(figures.get('ingest single-signal pushes')).toMatchObject({ verdict: 'pass', ratio: 1 });
    expect(figures.get('ingest p95 time-to-202 at 3,000/s')).toMatchObject({ verdict: 'pass', ratio: 4.2, baseline: '/healthz p95 10 ms' });
    expect(figures.get('gateway miss (cache off) vs Hive Gateway')).toMatchObject({ verdict: 'fail', ratio: 0.5 });
    expect(figures.get('gateway miss (cache off) vs plain Apollo')).toMatchObject({ verdict: 'fail', ratio: 1.25 });
    expect(figures.get('gateway cached vs Hive Gateway')).toMatchObject({ verdict: 'pass', ratio: 3.2 });
    expect(figures.get('gateway miss over 1,000 tenants vs plain Apollo')).toMatchObject({
      verdict: 'pass',
      ratio: 1.3,
      baseline: 'plain Apollo, 1000 tenants 180/s; Hive Gateway, 1000 tenants 300/s',
    });
    expect(figures.get('fan-out p95 at 1,000 subscribers')).toMatchObject({ verdict: 'pass', value: '180 ms (20000 of 20000 delivered)' });
    expect(figures.get('golden run wall time, 3 runs in a row')).toMatchObject({ verdict: 'pass', value: '30 s, 31 s, 32 s' });
    expect(figures.get("golden runs' spread, 3 in a row")).toMatchObject({ verdict: 'pass', baseline: 'mean 31 s' });
  });

  it('fails golden runs over 40 s or spread beyond ±5 %, and does not judge fewer than three', () => {
    const slow = byName(issue18Figures({ golden: { judged: { seconds: [30, 41, 31], meanSeconds: 34, spreadPercent: 20.59 } } }));
    expect(slow.get('golden run wall time, 3 runs in a row')?.verdict).toBe('fail');
    expect(slow.get("golden runs' spread, 3 in a row")).toMatchObject({ verdict: 'fail', value: 'furthest 20.59 % from the mean' });
    const short = byName(issue18Figures({ golden: { judged: { seconds: [30], meanSeconds: 30, spreadPercent: 0 } } }));
    expect(short.get("golden runs' spread, 3 in a row")).toMatchObject({ verdict: 'not measured', value: '1 runs, not 3' });
  });

  it('fails a figure whose load had errors or lost events, whatever its rate', () => {
    const lossy = { ...fanout, delivered: 19_999 };
    const erring: IngestReport = { ...ingest, singleSignal: { ...ingest.singleSignal, non2xx: 3 } };
    const figures = byName(issue18Figures({ ingest: erring, fanout: lossy }));
    expect(figures.get('ingest errors at the fixed rate')).toMatchObject({ verdict: 'fail', value: '3' });
    expect(figures.get('fan-out p95 at 1,000 subscribers')?.verdict).toBe('fail');
  });

  it('says "not measured" for what no report holds, and never a number', () => {
    const figures = issue18Figures({ fanout: { ...fanout, subscribers: 100 } });
    const unmeasured = figures.filter((f) => f.verdict === 'not measured');
    expect(unmeasured.map((f) => f.figure)).toEqual(figures.map((f) => f.figure));
    expect(unmeasured.every((f) => f.ratio === null)).toBe(true);
    expect(byName(figures).get('gateway miss over 1,000 tenants vs plain Apollo')?.value).toBe('bench:gateway wrote no report');
    expect(byName(figures).get('fan-out p95 at 1,000 subscribers')?.value).toBe('run with 100 subscribers, not 1000');
  });

  it('judges the spread load only when it ran over 1,000 tenants', () => {
    const figures = byName(issue18Figures({ gateway: { ...gateway, setup: { spreadTenants: 100 } } }));
    expect(figures.get('gateway miss over 1,000 tenants vs plain Apollo')).toMatchObject({
      verdict: 'not measured',
      value: 'run over 100 tenants, not 1000',
    });
    expect(figures.get('gateway miss (cache off) vs plain Apollo')?.verdict).toBe('fail');
  });

  it('prints one aligned line per figure under a header', () => {
    const figures = issue18Figures({ ingest, gateway, fanout });
    const lines = figureTable(figures).split('\n');
    expect(lines).toHaveLength(figures.length + 2);
    expect(lines[0]).toMatch(/^figure\s+target\s+value\s+baseline\s+ratio\s+verdict$/);
    const verdictColumn = lines[0]!.indexOf('verdict');
    expect(lines.slice(2).every((line) => /^(PASS|FAIL|NOT MEASURED)$/.test(line.slice(verdictColumn)))).toBe(true);
  });
});
