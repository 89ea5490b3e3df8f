import { coherenceDashboard, statPanel, timeseriesPanel, type Query, type Row } from '../panels';
import { series } from '../promql';
import { exported as m, recorded as r, services } from '../series';

/** One SLO of docs/slo.md: its error budget (1 - objective) and where its errors are counted. */
interface Slo {
  title: string;
  /** The share of events that may be bad over 30 days. */
  budget: number;
  /** PromQL of the bad share over the last 30 days, from the exported counters (no rule records 30 days). */
  errorRatio30d: string;
  /** The recorded bad share per window. */
  recordedErrorRatio: Partial<Record<'5m' | '30m' | '1h' | '2h' | '6h' | '1d' | '3d', string>>;
}

const increase30d = (counter: string, matchers: string) => `sum(increase(${series(counter, matchers)}[30d]))`;
const gatewayPosts = `service="${services.gateway}", route="/graphql", method="POST"`;
const ingestPushes = `service="${services.ingest}", route="/v1/signals", method="POST"`;

const slos: readonly Slo[] = [
  {
    title: 'Gateway availability: 99.9 % of POST /graphql without a 5xx',
    budget: 0.001,
    errorRatio30d: `${increase30d(`${m.httpRequestSeconds}_count`, `${gatewayPosts}, status=~"5.."`)} / ${increase30d(`${m.httpRequestSeconds}_count`, gatewayPosts)}`,
    recordedErrorRatio: r.gatewayAvailabilityErrorRatio,
  },
  {
    title: 'Gateway latency: 95 % of POST /graphql within 250 ms',
    budget: 0.05,
    errorRatio30d: `1 - ${increase30d(`${m.httpRequestSeconds}_bucket`, `${gatewayPosts}, le="0.25"`)} / ${increase30d(`${m.httpRequestSeconds}_count`, gatewayPosts)}`,
    recordedErrorRatio: r.gatewayLatencySlowRatio,
  },
  {
    title: 'Ingest acceptance: 99.9 % of POST /v1/signals without a 5xx',
    budget: 0.001,
    errorRatio30d: `${increase30d(`${m.httpRequestSeconds}_count`, `${ingestPushes}, status=~"5.."`)} / ${increase30d(`${m.httpRequestSeconds}_count`, ingestPushes)}`,
    recordedErrorRatio: { '30m': r.ingestAcceptanceErrorRatio30m },
  },
  {
    title: 'Freshness: 99 % of accepted signals scored within 30 s',
    budget: 0.01,
    errorRatio30d: `1 - ${increase30d(`${m.relayEventLagSeconds}_bucket`, 'le="30"')} / ${increase30d(`${m.relayEventLagSeconds}_count`, '')}`,
    recordedErrorRatio: { '30m': r.freshnessSlowRatio30m },
  },
];

/** The burn rate over each recorded window: how many times faster than the budget allows the errors come. */
function burnRates(slo: Slo, windows: readonly (keyof Slo['recordedErrorRatio'])[]): Query[] {
  return windows.flatMap((window) => {
    const recordedSeries = slo.recordedErrorRatio[window];
    return recordedSeries ? [{ expr: `${recordedSeries} / ${slo.budget}`, legend: window }] : [];
  });
}

function sloRow(slo: Slo): Row {
  const budgetRemaining = statPanel({
    title: 'Error budget remaining (30 days)',
    description: `Share of the 30-day error budget (${slo.budget * 100} % of events) not spent yet: 100 % untouched, 0 % spent, below 0 overspent.`,
    unit: 'percentunit',
    width: 6,
    thresholds: [
      { from: null, color: 'red' },
      { from: 0, color: 'orange' },
      { from: 0.25, color: 'green' },
    ],
    queries: [{ expr: `1 - (${slo.errorRatio30d}) / ${slo.budget}`, legend: 'remaining' }],
  });
  const fast = burnRates(slo, ['5m', '30m', '1h', '6h']);
  const slow = burnRates(slo, ['2h', '1d', '3d']);
  if (slow.length === 0) {
    const burnRate = timeseriesPanel({
      title: 'Burn rate',
      description: 'Errors over the recorded window divided by the budget: 1 spends the budget in exactly 30 days, more spends it sooner.',
      unit: 'short',
      width: 18,
      queries: fast,
    });
    return { title: slo.title, panels: [budgetRemaining, burnRate] };
  }
  const pageWindows = timeseriesPanel({
    title: 'Burn rate, page windows',
    description:
      'Errors over 5 m, 30 m, 1 h and 6 h divided by the budget; the page fires at 14.4 over both 1 h and 5 m, or 6 over both 6 h and 30 m.',
    unit: 'short',
    width: 9,
    queries: fast,
  });
  const ticketWindows = timeseriesPanel({
    title: 'Burn rate, ticket windows',
    description:
      'Errors over 2 h, 1 d and 3 d divided by the budget; the ticket opens at 3 over both 1 d and 2 h, or 1 over both 3 d and 6 h.',
    unit: 'short',
    width: 9,
    queries: slow,
  });
  return { title: slo.title, panels: [budgetRemaining, pageWindows, ticketWindows] };
}

/** The SLOs of docs/slo.md: budget left over 30 days and the burn rates the alerts of grafana/rules/slo.yml read. */
export const slo = () =>
  coherenceDashboard({
    uid: 'coherence-slo',
    title: 'Coherence / SLOs',
    description:
      'The service level objectives of docs/slo.md, one row each: error budget remaining over 30 days and burn rates from the recording rules in grafana/rules/slo.yml.',
    rows: slos.map(sloRow),
  });
