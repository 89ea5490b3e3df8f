export { buildWorkbench, type WorkbenchBuild } from './buildWorkbench';
export { startWorkbench, type RunningWorkbench, type StartWorkbenchOptions } from './startWorkbench';
export type { DevTokens } from './devTokenEndpoint';
