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

describe('a bundle remembers its decisions', async () => {
  const bundle = await loadPolicyBundle(policyBundleDir, readArtifactPublicKey(devArtifactPublicKeyPath));
  const cases = matrix.authz_matrix.cases;

  it('answers a repeated input from memory, and every input as the module does, whatever came before', () => {
    const first = cases.map((c) => bundle.evaluate(c.input));
    // Backwards, so that each input follows other inputs than the first time.
    const again = cases.map((_, i) => bundle.evaluate(cases[cases.length - 1 - i]!.input)).reverse();
    again.forEach((decision, i) => {
      expect(decision).toBe(first[i]);
      expect({ allow: decision.allow, reasonCode: decision.reasonCode }).toEqual(cases[i]!.expect);
    });
    // Callers share a remembered decision: none of them can change it for the next.
    expect(Object.isFrozen(first[0])).toBe(true);
  });

  it('does not remember an input larger than its whole memory, and still decides it', () => {
    const allowed = cases.find((c) => c.expect.allow)!.input as { tenantIds: string[] };
    // Over 4 million characters of JSON: a request naming 200,000 tenants.
    const huge = { ...allowed, tenantIds: Array.from({ length: 200_000 }, (_, i) => `tenant-${i}-padding`) };
    const first = bundle.evaluate(huge);
    expect(first.allow).toBe(false);
    expect(bundle.evaluate(huge)).not.toBe(first);
  }, 60_000);
});
