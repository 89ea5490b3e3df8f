import { goTool } from './goTool';
import { versions } from './versions';

/** The path of a `helm` binary of the pinned version (the chart tests lint and render with it), built once with `go install`. */
export const ensureHelm = goTool({
  name: 'helm',
  module: 'helm.sh/helm/v3',
  installPath: 'helm.sh/helm/v3/cmd/helm',
  version: versions.helm,
});
