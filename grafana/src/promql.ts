/**
 * Small builders for the PromQL the panels repeat. Every selector starts
 * with the dashboards' region filter, so the `region` variable narrows every
 * panel; `$__rate_interval` lets Grafana pick a window that spans at least
 * four scrapes at any zoom.
 */

/** `{region=~"$region", <matchers>}`; `matchers` is PromQL's own text, e.g. `service="gateway", status=~"5.."`. */
export function selector(matchers = ''): string {
  return `{region=~"$region"${matchers === '' ? '' : `, ${matchers}`}}`;
}

/** A gauge's series: `metric{region=~"$region", <matchers>}`. */
export function series(metric: string, matchers = ''): string {
  return `${metric}${selector(matchers)}`;
}

/** `sum by (<by>) (rate(counter{…}[$__rate_interval]))`: per second, summed over the replicas. */
export function sumRate(counter: string, options: { matchers?: string; by?: readonly string[] } = {}): string {
  return `${aggregate('sum', options.by)}(rate(${series(counter, options.matchers)}[$__rate_interval]))`;
}

/** `<fn> by (<by>) (<inner>)`, or `<fn> (<inner>)` with no `by`. */
export function aggregate(fn: 'sum' | 'max' | 'min', by: readonly string[] = []): string {
  return by.length === 0 ? `${fn} ` : `${fn} by (${by.join(', ')}) `;
}

/** The `q` quantile of a histogram (its base name, without `_bucket`) over the rate interval, summed over the replicas. */
export function quantile(q: number, histogram: string, options: { matchers?: string; by?: readonly string[] } = {}): string {
  return `histogram_quantile(${q}, ${sumRate(`${histogram}_bucket`, { matchers: options.matchers, by: ['le', ...(options.by ?? [])] })})`;
}

/** p50, p95 and p99 of a histogram as three queries, legends `p50 <suffix>`…. */
export function percentiles(histogram: string, options: { matchers?: string; by?: readonly string[]; legendSuffix?: string } = {}) {
  return [0.5, 0.95, 0.99].map((q) => ({
    expr: quantile(q, histogram, options),
    legend: `p${Math.round(q * 100)}${options.legendSuffix ? ` ${options.legendSuffix}` : ''}`,
  }));
}
