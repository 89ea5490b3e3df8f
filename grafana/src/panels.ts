import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** Every panel and variable queries the Prometheus the viewer picks in the `datasource` variable. */
const datasource = { type: 'prometheus', uid: '${datasource}' };

/** One PromQL query of a panel and the legend of its series (`{{label}}` placeholders). */
export interface Query {
  expr: string;
  legend: string;
}

/**
 * What every panel has: a title, a description (Grafana shows it on hover;
 * grafana/dashboards/README.md lists it), a unit (Grafana's unit ids, e.g.
 * `reqps`, `s`, `percentunit`, `short`) and its queries.
 */
export interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  queries: readonly Query[];
  /** Grid columns out of 24; 12 (half the width) unless said. */
  width?: number;
  /** Stacks the series (parts of one whole, e.g. requests by status). */
  stacked?: boolean;
}

/** Values at or above each `from` turn the panel that color (the first step starts at minus infinity). */
export interface Threshold {
  from: number | null;
  color: 'green' | 'yellow' | 'orange' | 'red';
}

const panelHeight = 8;

/** A graph over time of each query's series. */
export function timeseriesPanel(spec: PanelSpec): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(datasource)
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(panelHeight)
    .targets(spec.queries.map(target));
  if (spec.stacked) panel.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)).fillOpacity(30);
  return panel;
}

/** One number per series (the last value), colored by `thresholds`. */
export function statPanel(spec: PanelSpec & { thresholds: readonly Threshold[] }): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(datasource)
    .unit(spec.unit)
    .span(spec.width ?? 6)
    .height(panelHeight)
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(common.BigValueColorMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .thresholds(
      new dashboard.ThresholdsConfigBuilder()
        .mode(dashboard.ThresholdsMode.Absolute)
        .steps(spec.thresholds.map((step) => ({ value: step.from, color: step.color }))),
    )
    .targets(spec.queries.map(target));
}

function target(query: Query, index: number): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder()
    .datasource(datasource)
    .refId(String.fromCharCode(65 + index))
    .expr(query.expr)
    .legendFormat(query.legend)
    .range();
}

/** A titled row of panels; the dashboard lays the panels out left to right, wrapping at 24 columns. */
export interface Row {
  title: string;
  panels: readonly (timeseries.PanelBuilder | stat.PanelBuilder)[];
}

/** The variables a dashboard may offer besides `datasource` and `region`, which every one has. */
export type ExtraVariable = 'tenant';

export interface DashboardSpec {
  /** Also the JSON file's name under grafana/dashboards/. */
  uid: string;
  title: string;
  description: string;
  variables?: readonly { name: ExtraVariable; query: string; label: string }[];
  rows: readonly Row[];
}

/**
 * A dashboard of the Coherence folder: last 6 hours, refreshed every minute,
 * the `datasource` and `region` variables (every selector filters on
 * `region=~"$region"`), then `spec`'s own variables and rows.
 */
export function coherenceDashboard(spec: DashboardSpec): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(['coherence', 'generated'])
    .time({ from: 'now-6h', to: 'now' })
    .refresh('1m')
    .timezone('browser')
    .readonly()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .withVariable(new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(labelVariable('region', 'label_values(up, region)', 'Region'));
  for (const variable of spec.variables ?? []) builder.withVariable(labelVariable(variable.name, variable.query, variable.label));
  for (const row of spec.rows) {
    builder.withRow(new dashboard.RowBuilder(row.title));
    for (const panel of row.panels) builder.withPanel(panel);
  }
  return builder.build();
}

function labelVariable(name: string, query: string, label: string): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(datasource)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*');
}
