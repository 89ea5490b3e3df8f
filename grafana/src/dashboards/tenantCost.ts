import { coherenceDashboard, statPanel, timeseriesPanel } from '../panels';
import { aggregate } from '../promql';
import { recorded as r } from '../series';

/** The cost rules record `tenant`, not `region`: this dashboard filters on the tenant only. */
const chosen = (name: string) => `${name}{tenant=~"$tenant"}`;

/** Per-tenant cost from grafana/rules/cost.yml (cost units: requests × weight, signals stored, Neo4j writes, notifications; docs/slo.md). */
export const tenantCost = () =>
  coherenceDashboard({
    uid: 'coherence-tenant-cost',
    title: 'Coherence / Per-tenant cost',
    description:
      'Per-tenant cost in cost units from the recording rules in grafana/rules/cost.yml: what each tenant spends at the last 6 hours pace, by component, and its month against its budget.',
    variables: [{ name: 'tenant', label: 'Tenant', query: `label_values(${r.tenantCostProjectedMonth}, tenant)` }],
    rows: [
      {
        title: 'Cost',
        panels: [
          timeseriesPanel({
            title: 'Cost per hour by component',
            description:
              'Cost units per hour of the selected tenants at the last 6 hours pace, by component: requests (× operation weight), signals stored, Neo4j writes, notifications.',
            unit: 'short',
            stacked: true,
            queries: [{ expr: `${aggregate('sum', ['component'])}(${chosen(r.tenantComponentCostRate)}) * 3600`, legend: '{{component}}' }],
          }),
          timeseriesPanel({
            title: 'Cost per hour by tenant',
            description: 'Cost units per hour of each selected tenant at the last 6 hours pace, all components together.',
            unit: 'short',
            queries: [{ expr: `${chosen(r.tenantCostRate)} * 3600`, legend: '{{tenant}}' }],
          }),
        ],
      },
      {
        title: 'Month',
        panels: [
          statPanel({
            title: 'Projected share of the monthly budget',
            description:
              "Each selected tenant's month at the last 6 hours pace over its monthly budget; the budget alerts fire at 80 % and 95 %.",
            unit: 'percentunit',
            width: 12,
            thresholds: [
              { from: null, color: 'green' },
              { from: 0.8, color: 'orange' },
              { from: 0.95, color: 'red' },
            ],
            queries: [{ expr: chosen(r.tenantCostBudgetUsed), legend: '{{tenant}}' }],
          }),
          timeseriesPanel({
            title: 'Top 10 tenants by projected monthly cost',
            description: 'The ten tenants (of the selected ones) whose month at the last 6 hours pace costs the most, in cost units.',
            unit: 'short',
            queries: [{ expr: `topk(10, ${chosen(r.tenantCostProjectedMonth)})`, legend: '{{tenant}}' }],
          }),
        ],
      },
    ],
  });
