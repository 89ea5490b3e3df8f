import { ensureDebianPackages } from './debianPackages';

const promtool = '/usr/bin/promtool';

/**
 * The path of `promtool`, from Debian's `prometheus` package (installed on
 * first use): the dashboards' tests parse every panel's PromQL with it.
 */
export async function ensurePromtool(): Promise<string> {
  await ensureDebianPackages([{ binary: promtool, pkg: 'prometheus' }]);
  return promtool;
}
