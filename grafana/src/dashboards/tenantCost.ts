import { coherenceDashboard, statPanel, timeseriesPanel } from '../panels';
import { aggregate, series } from '../promql';
import { recorded as r } from '../series';

const chosen = 'tenant=~"$tenant"';

/** Per-tenant cost from the cost recording rules (cost units: requests × weight, signals stored, graph writes, notifications). */
export const tenantCost = () =>
  coherenceDashboard({
    uid: 'coherence-tenant-cost',
    title: 'Coherence / Per-tenant cost',
    description:
      'Per-tenant cost in cost units from the recording rules in grafana/rules: what each tenant spends now, by component, and its month against its budget.',
    variables: [{ name: 'tenant', label: 'Tenant', query: `label_values(${r.tenantCostProjectedMonth}, tenant)` }],
    rows: [
      {
        title: 'Cost',
        panels: [
          timeseriesPanel({
            title: 'Cost rate by component',
            description:
              'Cost units per hour of the selected tenants, by component: requests (× operation weight), signals stored, Neo4j writes, notifications.',
            unit: 'short',
            stacked: true,
            queries: [{ expr: `${aggregate('sum', ['component'])}(${series(r.tenantCostRate1h, chosen)})`, legend: '{{component}}' }],
          }),
          timeseriesPanel({
            title: 'Cost rate by tenant',
            description: 'Cost units per hour of each selected tenant, all components together.',
            unit: 'short',
            queries: [{ expr: `${aggregate('sum', ['tenant'])}(${series(r.tenantCostRate1h, chosen)})`, legend: '{{tenant}}' }],
          }),
        ],
      },
      {
        title: 'Month',
        panels: [
          statPanel({
            title: 'Projected share of the monthly budget',
            description:
              "Each selected tenant's month so far, extrapolated to the whole month, over its monthly budget; the budget alerts fire at 80 % and 95 %.",
            unit: 'percentunit',
            width: 12,
            thresholds: [
              { from: null, color: 'green' },
              { from: 0.8, color: 'orange' },
              { from: 0.95, color: 'red' },
            ],
            queries: [
              {
                expr: `${aggregate('sum', ['tenant'])}(${series(r.tenantCostProjectedMonth, chosen)}) / ${aggregate('sum', ['tenant'])}(${series(r.tenantCostBudget, chosen)})`,
                legend: '{{tenant}}',
              },
            ],
          }),
          timeseriesPanel({
            title: 'Top 10 tenants by projected monthly cost',
            description: 'The ten tenants (of the selected ones) whose month, extrapolated, costs the most, in cost units.',
            unit: 'short',
            queries: [
              { expr: `topk(10, ${aggregate('sum', ['tenant'])}(${series(r.tenantCostProjectedMonth, chosen)}))`, legend: '{{tenant}}' },
            ],
          }),
        ],
      },
    ],
  });
