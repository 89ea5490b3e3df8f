import type { DependencyControls, DrillContext } from '../../scenario';

/** The fault proxies' latency control; only the drill's own application runs behind them (not --attach). */
export function latencyControl(context: DrillContext, scenario: string): NonNullable<DependencyControls['latency']> {
  const { latency } = context.dependencies;
  if (!latency) throw new Error(`${scenario} needs the fault proxies of the drill's own application (not --attach)`);
  return latency;
}
