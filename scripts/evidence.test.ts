import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesUnder } from './evidence/checksums';

const repoRoot = resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'evidence-test-'));
const reports = join(work, 'reports');
const out = join(work, 'bundle');
const junit =
  '<?xml version="1.0" encoding="UTF-8" ?>\n<testsuites name="vitest tests" tests="3" failures="1" errors="0" time="1.5">\n</testsuites>\n';
const figures = [
  { figure: 'f', verdict: 'pass' },
  { figure: 'g', verdict: 'not measured' },
];

/** `npm run evidence` as the test command runs it, over the reports of a made-up test run. */
const evidence = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'scripts/evidence.ts', ...args], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );

beforeAll(() => {
  mkdirSync(join(reports, 'coverage/whole-repo'), { recursive: true });
  writeFileSync(join(reports, 'junit.xml'), junit);
  const pct = (n: number) => ({ total: 100, covered: n, skipped: 0, pct: n });
  writeFileSync(
    join(reports, 'coverage/whole-repo/coverage-summary.json'),
    JSON.stringify({ total: { lines: pct(83.5), statements: pct(83), functions: pct(80), branches: pct(81.25) } }),
  );
  writeFileSync(join(reports, 'bench-summary.json'), JSON.stringify({ when: '2026-11-27T00:00:00.000Z', figures }));
  writeFileSync(join(reports, 'drill-redis-down.json'), JSON.stringify({ scenario: 'redis-down', pass: true }));
  writeFileSync(join(reports, 'drill-kafka-outage.json'), JSON.stringify({ scenario: 'kafka-outage', pass: false }));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm run evidence', { timeout: 300_000 }, () => {
  it('writes every piece of evidence and a SHA256SUMS that sha256sum -c accepts', async () => {
    const result = await evidence(['--version', '9.9.9-test', '--reports', reports, '--out', out]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const files = filesUnder(out);
    expect(files).toEqual(
      [
        'RELEASE-NOTES.md',
        'SHA256SUMS',
        'bench-summary.json',
        'coverage-summary.json',
        'drills/drill-kafka-outage.json',
        'drills/drill-redis-down.json',
        'evidence.json',
        'junit.xml',
        'opa-coverage-authz.json',
        'opa-coverage-comms.json',
        'persisted-queries-diff.json',
        'policy-simulate.json',
      ].sort(),
    );
    const { stdout: checked } = await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out });
    expect(checked.trim().split('\n').sort()).toEqual(files.filter((file) => file !== 'SHA256SUMS').map((file) => `${file}: OK`));
    expect(readFileSync(join(out, 'junit.xml'), 'utf8')).toBe(junit);

    const index = JSON.parse(readFileSync(join(out, 'evidence.json'), 'utf8'));
    expect(index).toMatchObject({
      version: '9.9.9-test',
      tests: { tests: 3, failures: 1, errors: 0 },
      coverage: { lines: 83.5, branches: 81.25, floorPercent: 80 },
      drills: [
        { file: 'drills/drill-kafka-outage.json', pass: false },
        { file: 'drills/drill-redis-down.json', pass: true },
      ],
      simulation: { changed: 0 },
      problems: [],
    });
    expect(index.simulation.replayed).toBeGreaterThan(0);
    expect(index.opaCoverage.authz).toBeGreaterThanOrEqual(90);
    expect(index.opaCoverage.comms).toBeGreaterThan(0);
    // This clone has no v* tag, so the base is the first commit with the manifest, and the diff against it is real.
    const { previous, diff } = JSON.parse(readFileSync(join(out, 'persisted-queries-diff.json'), 'utf8'));
    expect(previous.kind).toMatch(/^(tag|first-commit-with-manifest)$/);
    await run('git', ['cat-file', '-e', `${previous.commit}:persisted-queries/manifest.json`], { cwd: repoRoot });
    expect(diff.addedIds.length + diff.removedIds.length + diff.unchangedIds).toBeGreaterThan(0);

    const notes = readFileSync(join(out, 'RELEASE-NOTES.md'), 'utf8');
    expect(notes).toMatch(/^# Coherence 9\.9\.9-test\n/);
    expect(notes).toContain(`Bundle version ${readFileSync(join(repoRoot, 'policy/VERSION'), 'utf8').trim()}`);
    expect(notes).toContain('Tests (`junit.xml`): 3 run, 1 failed, 0 errors.');
    expect(notes).toContain('lines 83.5 %, branches 81.25 % (floor 80 %).');
    expect(notes).toContain('1 figures pass, 0 fail, 1 not measured');
    expect(notes).toContain('kafka-outage FAILED, redis-down passed');
  });

  it('refuses a file changed after the bundle was written', async () => {
    appendFileSync(join(out, 'coverage-summary.json'), ' ');
    const refused = await run('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: out }).catch((error: { stdout: string }) => error);
    expect(refused.stdout).toContain('coverage-summary.json: FAILED');
  });

  it('refuses to write a bundle without the test run it is evidence of', async () => {
    rmSync(join(reports, 'junit.xml'));
    const result = await evidence(['--version', '9.9.9-test', '--reports', reports, '--out', join(work, 'none')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('junit.xml: run the test command first (npm test)');
  });
});
