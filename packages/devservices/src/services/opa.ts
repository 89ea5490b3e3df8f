import { goTool } from './goTool';
import { versions } from './versions';

/** The OPA version the dev services kit provisions (and that compiled policy/bundle). */
export const pinnedOpaVersion: string = versions.opa;

/** The path of an `opa` binary of the pinned version (the one that compiled policy/bundle), built once with `go install`. */
export const ensureOpa = goTool({
  name: 'opa',
  module: 'github.com/open-policy-agent/opa',
  installPath: 'github.com/open-policy-agent/opa',
  version: versions.opa,
});
