/** The one environment fact the server reads: a production process never serves dev tokens (docs/adr/0030-workbench-app.md). */
export const isProduction = (): boolean => process.env['NODE_ENV'] === 'production';
