/**
 * `npm run evidence [-- --version <v>]`: the release evidence bundle
 * (docs/adr/0032-release-evidence.md, docs/runbooks/release.md), written to
 * reports/evidence/<version>/ from what the last test run left in reports/:
 *
 *   junit.xml                  the whole suite (scripts/test.sh)
 *   coverage-summary.json      whole-repo coverage, lines and branches, per file
 *   opa-coverage-<bundle>.json `opa test --coverage` of each policy's sources and tests
 *   bench-summary.json         `npm run bench`'s summary, when one is present
 *   drills/drill-*.json        the drill reports present now
 *   persisted-queries-diff.json the manifest against the previous release's
 *   policy-simulate.json       the committed bundle replayed over the golden decisions
 *   RELEASE-NOTES.md           decisions and changelogs since the previous release
 *   evidence.json              what is in the bundle and what it says, for machines
 *   SHA256SUMS                 over all of it (`sha256sum -c SHA256SUMS`)
 *
 * It runs no test: a missing test result is an error, not a reason to run the suite.
 */
import { manifestSchema, type Manifest } from '@coherence/persisted-queries';
import { ensureOpa } from '@coherence/devservices/opa';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseScriptArgs, usageError } from './commandLine';
import { newChangelogSections } from './evidence/changelogSections';
import { writeChecksums } from './evidence/checksums';
import { diffManifests } from './evidence/manifestDiff';
import { changedSince, fileAt, findPreviousRelease, headCommit, MANIFEST_IN_REPO } from './evidence/previousRelease';
import { renderReleaseNotes } from './evidence/releaseNotes';
import { simulate } from './policySimulation';

const repoRoot = resolve(import.meta.dirname, '..');
const rootPackage = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };

const usage = `usage: npm run evidence [-- --version <v>] [--reports <dir>] [--out <dir>]

Writes the release evidence bundle from the last test run's results; runs no test.
  --version <v>    the release (default: the root package.json's, ${rootPackage.version})
  --reports <dir>  where the test run, benches and drills wrote their reports (default: reports)
  --out <dir>      the bundle's folder, emptied first (default: reports/evidence/<version>)`;
const values = parseScriptArgs(usage, { version: { type: 'string' }, reports: { type: 'string' }, out: { type: 'string' } });
const version = values.version ?? rootPackage.version;
if (!/^[0-9A-Za-z][0-9A-Za-z.+-]*$/.test(version)) usageError(usage, `--version ${version}: letters, digits, . + - only`);
const reportsDir = resolve(values.reports ?? join(repoRoot, 'reports'));
const outDir = resolve(values.out ?? join(reportsDir, 'evidence', version));

/** The test run's outputs the bundle cannot do without (scripts/test.sh writes both). */
const JUNIT = join(reportsDir, 'junit.xml');
const COVERAGE_SUMMARY = join(reportsDir, 'coverage/whole-repo/coverage-summary.json');
const COVERAGE_FLOOR_PERCENT = 80;
const POLICIES = { authz: join(repoRoot, 'policy'), comms: join(repoRoot, 'policy/comms') };

const missing = [JUNIT, COVERAGE_SUMMARY].filter((path) => !existsSync(path));
if (missing.length > 0) {
  console.error(
    `evidence: no test results at ${missing.map((path) => relative(repoRoot, path)).join(', ')}: run the test command first (npm test)`,
  );
  process.exit(1);
}
const say = (message: string) => console.log(`[evidence] ${message}`);
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const problems: string[] = [];
const evidenceLines: string[] = [];

// The test run: JUnit and coverage as it wrote them.
copyFileSync(JUNIT, join(outDir, 'junit.xml'));
const suite = /<testsuites\b[^>]*>/.exec(readFileSync(JUNIT, 'utf8'))?.[0] ?? '';
const count = (attribute: string) => Number(new RegExp(`\\b${attribute}="(\\d+)"`).exec(suite)?.[1] ?? NaN);
const tests = { tests: count('tests'), failures: count('failures'), errors: count('errors') };
evidenceLines.push(`Tests (\`junit.xml\`): ${tests.tests} run, ${tests.failures} failed, ${tests.errors} errors.`);
copyFileSync(COVERAGE_SUMMARY, join(outDir, 'coverage-summary.json'));
const { total } = JSON.parse(readFileSync(COVERAGE_SUMMARY, 'utf8')) as { total: Record<'lines' | 'branches', { pct: number }> };
const coverage = { lines: total.lines.pct, branches: total.branches.pct, floorPercent: COVERAGE_FLOOR_PERCENT };
evidenceLines.push(
  `Coverage, whole repo (\`coverage-summary.json\`): lines ${coverage.lines} %, branches ${coverage.branches} % (floor ${COVERAGE_FLOOR_PERCENT} %` +
    `${Math.min(coverage.lines, coverage.branches) < COVERAGE_FLOOR_PERCENT ? ': BELOW IT' : ''}).`,
);

// The policies' own tests with OPA's coverage (the binary devservices provisions, as policy:check uses).
say('opa test --coverage');
const opa = await ensureOpa();
const opaCoverage: Record<string, number> = {};
for (const [name, dir] of Object.entries(POLICIES)) {
  const { stdout, failed } = await promisify(execFile)(opa, ['test', '--coverage', '--format=json', 'src', 'test'], {
    cwd: dir,
    maxBuffer: 64 * 1024 * 1024,
  }).then(
    ({ stdout }) => ({ stdout, failed: false }),
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? '', failed: true }),
  );
  writeFileSync(join(outDir, `opa-coverage-${name}.json`), stdout);
  if (failed) problems.push(`opa test failed in ${relative(repoRoot, dir)}`);
  opaCoverage[name] = (JSON.parse(stdout || '{}') as { coverage?: number }).coverage ?? NaN;
}
evidenceLines.push(
  `Policy tests with OPA's coverage: ${Object.entries(opaCoverage)
    .map(([name, pct]) => `${name} ${pct.toFixed(1)} % (\`opa-coverage-${name}.json\`)`)
    .join(', ')}.`,
);

// Benchmarks and drills: whatever is present now, as it is.
const benchSummaryPath = join(reportsDir, 'bench-summary.json');
const benchSummary = existsSync(benchSummaryPath)
  ? (JSON.parse(readFileSync(benchSummaryPath, 'utf8')) as { when: string; figures: { verdict: string }[] })
  : undefined;
if (benchSummary === undefined) evidenceLines.push('Benchmarks: no `npm run bench` summary was present.');
else {
  copyFileSync(benchSummaryPath, join(outDir, 'bench-summary.json'));
  const verdicts = (verdict: string) => benchSummary.figures.filter((figure) => figure.verdict === verdict).length;
  evidenceLines.push(
    `Benchmarks (\`bench-summary.json\`, run ${benchSummary.when}): ${verdicts('pass')} figures pass, ${verdicts('fail')} fail, ` +
      `${verdicts('not measured')} not measured.`,
  );
}
const drillFiles = readdirSync(reportsDir).filter((name) => /^drill-.+\.json$/.test(name));
const drills = drillFiles.map((name) => {
  mkdirSync(join(outDir, 'drills'), { recursive: true });
  copyFileSync(join(reportsDir, name), join(outDir, 'drills', name));
  const report = JSON.parse(readFileSync(join(reportsDir, name), 'utf8')) as { pass?: unknown; measuredAt?: unknown };
  return { file: `drills/${name}`, pass: report.pass === true, measuredAt: report.measuredAt };
});
evidenceLines.push(
  drills.length === 0
    ? 'Drills: no drill report was present.'
    : `Drills (\`drills/\`): ${drills.map(({ file, pass }) => `${file.slice('drills/drill-'.length, -'.json'.length)} ${pass ? 'passed' : 'FAILED'}`).join(', ')}.`,
);

// The persisted-query manifest and the decision records against the previous release.
const previous = findPreviousRelease(repoRoot, version);
const readManifestText = (text: string): Manifest => manifestSchema.parse(JSON.parse(text));
const previousManifestText = previous.kind === 'unavailable' ? undefined : fileAt(repoRoot, previous.commit, MANIFEST_IN_REPO);
const manifestDiff =
  previousManifestText === undefined
    ? undefined
    : diffManifests(readManifestText(previousManifestText), readManifestText(readFileSync(join(repoRoot, MANIFEST_IN_REPO), 'utf8')));
writeFileSync(join(outDir, 'persisted-queries-diff.json'), `${JSON.stringify({ previous, diff: manifestDiff ?? null }, null, 2)}\n`);

// The committed policy bundle replayed over the golden decisions (what policy:check gates on).
say('policy simulate --golden');
const simulationPath = join(outDir, 'policy-simulate.json');
const simulationExit = await simulate(['--bundle', join(repoRoot, 'policy/bundle'), '--golden', '--report', simulationPath]);
if (simulationExit !== 0) problems.push('the golden decisions changed without an entry in policy/CHANGES.md');
const simulation = JSON.parse(readFileSync(simulationPath, 'utf8')) as { replayed: number; changed: number };
evidenceLines.push(
  `Policy simulation over the golden decisions (\`policy-simulate.json\`): ${simulation.replayed} replayed, ${simulation.changed} changed.`,
);

const changelog = (path: string) =>
  newChangelogSections(
    readFileSync(join(repoRoot, path), 'utf8'),
    previous.kind === 'unavailable' ? undefined : fileAt(repoRoot, previous.commit, path),
  );
const decisionPaths =
  previous.kind === 'unavailable'
    ? readdirSync(join(repoRoot, 'docs/adr')).map((name) => ({ status: 'A', path: `docs/adr/${name}` }))
    : changedSince(repoRoot, previous.commit, 'docs/adr');
const decisions = decisionPaths
  .filter(({ path }) => path.endsWith('.md') && existsSync(join(repoRoot, path)))
  .sort((a, b) => a.path.localeCompare(b.path))
  .map(({ status, path }) => ({
    path,
    title: /^# (.+)$/m.exec(readFileSync(join(repoRoot, path), 'utf8'))?.[1] ?? path,
    status: status === 'A' ? ('added' as const) : ('changed' as const),
  }));
const commit = headCommit(repoRoot);
const date = new Date().toISOString();
writeFileSync(
  join(outDir, 'RELEASE-NOTES.md'),
  renderReleaseNotes({
    version,
    commit,
    date,
    previous,
    decisions,
    manifestDiff,
    operationsChanges: changelog('persisted-queries/CHANGES.md'),
    policyVersion: readFileSync(join(repoRoot, 'policy/VERSION'), 'utf8').trim(),
    policyChanges: changelog('policy/CHANGES.md'),
    evidence: evidenceLines,
  }),
);
const index = { version, commit, createdAt: date, previous, tests, coverage, opaCoverage, drills, simulation, problems };
writeFileSync(join(outDir, 'evidence.json'), `${JSON.stringify(index, null, 2)}\n`);
const files = writeChecksums(outDir);
say(`${relative(process.cwd(), outDir)}: ${files} files and SHA256SUMS`);
for (const problem of problems) console.error(`evidence: ${problem}`);
process.exit(problems.length === 0 ? 0 : 1);
