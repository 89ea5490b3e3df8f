import { ensureOpa } from '@coherence/devservices/opa';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { commsPolicyDir } from './loadQuietHoursPolicy';

const COVERAGE_THRESHOLD_PERCENT = 90;

/** The real `opa test` over the quiet-hours Rego, with coverage (the Wasm runs in loadQuietHoursPolicy.test.ts). */
it(`passes opa test on the quiet-hours policy with at least ${COVERAGE_THRESHOLD_PERCENT}% coverage`, { timeout: 900_000 }, async () => {
  const opa = await ensureOpa();
  const { stdout } = await promisify(execFile)(
    opa,
    ['test', '--coverage', '--format=json', `--threshold=${COVERAGE_THRESHOLD_PERCENT}`, 'src', 'test'],
    {
      cwd: commsPolicyDir,
      maxBuffer: 16 * 1024 * 1024,
    },
  ).catch((error: { stdout?: string; stderr?: string }) => {
    throw new Error(`opa test failed:\n${error.stderr ?? ''}\n${(error.stdout ?? '').slice(0, 4_000)}`);
  });
  const report = JSON.parse(stdout) as { coverage: number; files: Record<string, { coverage?: number }> };
  expect(report.files['src/quiet_hours.rego']?.coverage).toBeGreaterThanOrEqual(COVERAGE_THRESHOLD_PERCENT);
});
