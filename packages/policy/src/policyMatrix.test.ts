import { devArtifactPublicKeyPath, readArtifactPublicKey } from '@coherence/auth';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPolicyBundle, policyBundleDir } from './loadPolicyBundle';

/**
 * The allow/deny matrix that `opa test` runs against the Rego source
 * (policy/test/authz_test.rego), run here through the committed Wasm bundle:
 * if the compiled module and the source ever disagree, one of the two fails.
 */
interface MatrixCase {
  name: string;
  input: unknown;
  expect: { allow: boolean; reasonCode: string };
}
const matrix = JSON.parse(readFileSync(new URL('../../../policy/test/matrix.json', import.meta.url), 'utf8')) as {
  authz_matrix: { cases: MatrixCase[] };
};

describe('policy matrix through the committed Wasm bundle', async () => {
  const bundle = await loadPolicyBundle(policyBundleDir, readArtifactPublicKey(devArtifactPublicKeyPath));

  it.each(matrix.authz_matrix.cases.map((c) => [c.name, c] as const))('%s', (_name, matrixCase) => {
    const decision = bundle.evaluate(matrixCase.input);
    expect({ allow: decision.allow, reasonCode: decision.reasonCode }).toEqual(matrixCase.expect);
    expect(decision.explanation.length).toBeGreaterThan(0);
  });
});
