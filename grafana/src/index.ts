export { buildDashboards, dashboardsDir, panelQueries, renderDashboardFiles, type PanelQueries } from './render';
export { seriesNamesOf } from './promql/seriesNames';
export { exported, recorded } from './series';
