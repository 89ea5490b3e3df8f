import { describe, expect, it } from 'vitest';
import { seriesNamesOf, substituteVariables } from './seriesNames';

describe('seriesNamesOf', () => {
  it('names every selected series: inside functions, aggregations, binary operators and subqueries', () => {
    const expr =
      'histogram_quantile(0.95, sum by (le) (rate(a_bucket{x="1"}[5m]))) / on (x) group_left max(b) + rate(c_total[5m] offset 1h) + max_over_time(d[1h:5m])';
    expect(seriesNamesOf(expr).sort()).toEqual(['a_bucket', 'b', 'c_total', 'd']);
  });

  it('reads recording-rule names (with colons) and __name__ matchers', () => {
    expect(seriesNamesOf('slo:burn_rate:ratio_rate5m{slo="x"} > 14.4 and {__name__="up"}').sort()).toEqual([
      'slo:burn_rate:ratio_rate5m',
      'up',
    ]);
  });

  it('refuses a selector without a fixed name, and a syntax error', () => {
    expect(() => seriesNamesOf('sum(rate({__name__=~"gateway_.*"}[5m]))')).toThrow(/without a fixed metric name/);
    expect(() => seriesNamesOf('sum(rate(a_total[5m])')).toThrow(/syntax error/);
  });
});

describe('substituteVariables', () => {
  it('replaces Grafana time variables with an interval and the others with a label value', () => {
    expect(substituteVariables('rate(a{region=~"$region", t="${tenant}"}[$__rate_interval]) + b[$__range]')).toBe(
      'rate(a{region=~"variable_value", t="variable_value"}[5m]) + b[5m]',
    );
  });
});
