import { coherenceDashboard, statPanel, timeseriesPanel } from '../panels';
import { series } from '../promql';
import { recorded as r } from '../series';

const chosen = 'slo=~"$slo"';

/** The SLOs (docs/slo.md) from the recording rules: budget left, attainment, burn rates of the alerting windows. */
export const slo = () =>
  coherenceDashboard({
    uid: 'coherence-slo',
    title: 'Coherence / SLOs',
    description:
      'Service level objectives from the recording rules in grafana/rules: error budget remaining, 30-day attainment, burn rates.',
    variables: [{ name: 'slo', label: 'SLO', query: `label_values(${r.sloObjective}, slo)` }],
    rows: [
      {
        title: 'Error budget',
        panels: [
          statPanel({
            title: 'Error budget remaining',
            description: 'Share of the 30-day error budget not spent yet, per SLO: 100 % untouched, 0 % spent, below 0 overspent.',
            unit: 'percentunit',
            width: 8,
            thresholds: [
              { from: null, color: 'red' },
              { from: 0, color: 'orange' },
              { from: 0.25, color: 'green' },
            ],
            queries: [{ expr: series(r.sloBudgetRemaining, chosen), legend: '{{slo}}' }],
          }),
          timeseriesPanel({
            title: 'Attainment over 30 days against the objective',
            description: 'Good events over all events in the last 30 days (solid), and the objective it must stay above, per SLO.',
            unit: 'percentunit',
            width: 16,
            queries: [
              { expr: series(r.sloSli30d, chosen), legend: '{{slo}}' },
              { expr: series(r.sloObjective, chosen), legend: '{{slo}} objective' },
            ],
          }),
        ],
      },
      {
        title: 'Burn rates',
        panels: [
          timeseriesPanel({
            title: 'Burn rate, fast windows (5 m, 1 h)',
            description:
              'How many times faster than sustainable the budget burns over 5 minutes and 1 hour; the page fires when both are over 14.4 (2 % of the budget in an hour).',
            unit: 'short',
            queries: [
              { expr: series(r.sloBurnRate5m, chosen), legend: '{{slo}} 5m' },
              { expr: series(r.sloBurnRate1h, chosen), legend: '{{slo}} 1h' },
            ],
          }),
          timeseriesPanel({
            title: 'Burn rate, slow windows (6 h, 3 d)',
            description:
              'The same over 6 hours and 3 days: a slow leak that the fast windows miss; the ticket fires when the 6 h rate is over 6 or the 3 d rate over 1.',
            unit: 'short',
            queries: [
              { expr: series(r.sloBurnRate6h, chosen), legend: '{{slo}} 6h' },
              { expr: series(r.sloBurnRate3d, chosen), legend: '{{slo}} 3d' },
            ],
          }),
        ],
      },
    ],
  });
