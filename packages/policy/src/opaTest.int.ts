import { ensureOpa } from '@coherence/devservices/opa';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const policyDir = fileURLToPath(new URL('../../../policy', import.meta.url));
const COVERAGE_THRESHOLD_PERCENT = 90;

/**
 * The real `opa test` over the Rego sources and the allow/deny matrix, with
 * coverage: fails below the threshold. (The same matrix runs through the
 * compiled Wasm in policyMatrix.test.ts.)
 */
it(`passes opa test with at least ${COVERAGE_THRESHOLD_PERCENT}% coverage`, { timeout: 900_000 }, async () => {
  const opa = await ensureOpa();
  const { stdout } = await promisify(execFile)(
    opa,
    ['test', '--coverage', '--format=json', `--threshold=${COVERAGE_THRESHOLD_PERCENT}`, 'src', 'test'],
    { cwd: policyDir, maxBuffer: 16 * 1024 * 1024 },
  ).catch((error: { stdout?: string; stderr?: string }) => {
    throw new Error(`opa test failed:\n${error.stderr ?? ''}\n${(error.stdout ?? '').slice(0, 4_000)}`);
  });
  const report = JSON.parse(stdout) as { coverage: number; files: Record<string, { coverage?: number }> };
  expect(report.coverage).toBeGreaterThanOrEqual(COVERAGE_THRESHOLD_PERCENT);
  expect(report.files['src/authz.rego']?.coverage).toBeGreaterThanOrEqual(COVERAGE_THRESHOLD_PERCENT);
});
