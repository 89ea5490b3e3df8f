export { buildDashboards, dashboardsDir, panelQueries, renderDashboardFiles, type PanelQueries } from './render';
