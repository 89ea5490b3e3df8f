import { coherenceDashboard, statPanel, timeseriesPanel } from '../panels';
import { aggregate, percentiles, series, sumRate } from '../promql';
import { exported as m } from '../series';

/** coherenceEvents subscriptions on the gateway: how many, how fast a score change reaches them, what is refused. */
export const subscriptions = () =>
  coherenceDashboard({
    uid: 'coherence-subscriptions',
    title: 'Coherence / Subscriptions',
    description:
      'GraphQL subscriptions (coherenceEvents over WebSocket) on the gateway: open subscriptions, fan-out latency and rate, refusals over a cap.',
    rows: [
      {
        title: 'Subscriptions',
        panels: [
          statPanel({
            title: 'Open subscriptions',
            description: 'coherenceEvents subscriptions open now over all gateway replicas (a WebSocket connection carries one or more).',
            unit: 'short',
            thresholds: [{ from: null, color: 'green' }],
            queries: [{ expr: `sum(${series(m.subscriptionActive)})`, legend: 'open' }],
          }),
          timeseriesPanel({
            title: 'Open subscriptions by replica',
            description:
              'coherenceEvents subscriptions open on each gateway replica; a lopsided spread means the load balancer pins WebSockets.',
            unit: 'short',
            width: 18,
            queries: [{ expr: `${aggregate('sum', ['instance'])}(${series(m.subscriptionActive)})`, legend: '{{instance}}' }],
          }),
          timeseriesPanel({
            title: 'Fan-out latency p50 / p95 / p99',
            description:
              'From the relay committing a score change to the gateway handing it to a subscriber; the alert fires when p95 is over 250 ms.',
            unit: 's',
            queries: percentiles(m.subscriptionFanoutLatencySeconds),
          }),
          timeseriesPanel({
            title: 'Fan-out rate',
            description: 'Score changes handed to subscribers per second, over all gateway replicas.',
            unit: 'cps',
            width: 6,
            queries: [{ expr: sumRate(`${m.subscriptionFanoutLatencySeconds}_count`), legend: 'delivered' }],
          }),
          timeseriesPanel({
            title: 'Refusals over a cap',
            description: 'WebSocket connections and subscriptions refused per second because a cap was reached, by cap.',
            unit: 'cps',
            width: 6,
            queries: [{ expr: sumRate(m.subscriptionLimitRefusals, { by: ['limit'] }), legend: '{{limit}}' }],
          }),
        ],
      },
    ],
  });
