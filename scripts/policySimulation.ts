/**
 * `npm run policy -- simulate`, `golden` and the golden check of `policy:check`
 * (docs/adr/0027-policy-simulation.md, docs/runbooks/policy-rollout.md).
 */
import { devArtifactPublicKeyPath, readArtifactPublicKey } from '@coherence/auth';
import { createPgPool } from '@coherence/platform';
import {
  createSimulation,
  formatSimulationReport,
  goldenAsReplayed,
  goldenDecisionsSchema,
  loadPolicyBundle,
  policyBundleDir,
  readRecordedDecisions,
  unacknowledgedChanges,
  type DecisionChange,
  type GoldenDecisions,
  type ReplayedDecision,
  type SimulationReport,
} from '@coherence/policy';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const repoRoot = resolve(import.meta.dirname, '..');
const goldenPath = join(repoRoot, 'policy/test/golden-decisions.json');
const matrixPath = join(repoRoot, 'policy/test/matrix.json');
const changelogPath = join(repoRoot, 'policy/CHANGES.md');
const defaultReportPath = join(repoRoot, 'reports/policy-simulate.json');
/** The dev stack's database (scripts/stack.ts), as its superuser over loopback, as `npm run migrate`. */
const stackDatabaseUrl = 'postgres://postgres@127.0.0.1:5432/coherence';

export const simulateUsage = `usage: npm run policy -- simulate --bundle <dir> [--since 24h] [--tenant <id>]... [--json] [--golden]
                                  [--database-url <url>] [--public-key <file>] [--report <file>]

Replays recorded decision inputs against the candidate bundle in <dir> (built and signed like
policy/bundle) and lists every decision it would answer differently, grouped by change and reason,
with counts and examples. Reads only: nothing is written but the report.

  --bundle <dir>        the candidate bundle folder (policy.wasm, data.json, manifest.json, .signatures.json)
  --since <duration>    decisions of the last <n>m, <n>h or <n>d; default 24h
  --tenant <id>         only decisions filed under this tenant (repeatable)
  --golden              replay policy/test/golden-decisions.json instead of policy_decisions, and fail (exit 1)
                        on a change policy/CHANGES.md does not list
  --json                print the report as JSON instead of text
  --database-url <url>  a role that reads every tenant's policy_decisions (row-level security is forced: the
                        migrating superuser); default ${stackDatabaseUrl} (the dev stack)
  --public-key <file>   the key the candidate must be signed with; default the dev key's public half
  --report <file>       where the JSON report is written; default reports/policy-simulate.json

Exit codes: 0 listed, 1 refused (a bundle that does not load, unlisted golden changes), 2 usage.`;

const durationMs = (text: string): number => {
  const match = /^(\d+)([mhd])$/.exec(text);
  if (!match) throw new Error(`--since ${text}: a duration such as 30m, 24h or 7d`);
  return Number(match[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'm' | 'h' | 'd'];
};

const readGolden = (): GoldenDecisions => goldenDecisionsSchema.parse(JSON.parse(readFileSync(goldenPath, 'utf8')));

const describeChange = (change: DecisionChange) => `- \`${change.id}\`: ${change.from} → ${change.to}`;

async function replay(
  bundleDir: string,
  publicKeyPath: string | undefined,
  decisions: AsyncIterable<ReplayedDecision> | Iterable<ReplayedDecision>,
) {
  const candidate = await loadPolicyBundle(bundleDir, readArtifactPublicKey(publicKeyPath ?? devArtifactPublicKeyPath));
  const simulation = createSimulation(candidate);
  for await (const decision of decisions) simulation.add(decision);
  return simulation.report();
}

/** Prints the golden changes CHANGES.md does not list, as the lines that would list them; true when there are none. */
function acknowledged(report: SimulationReport): boolean {
  const missing = unacknowledgedChanges(report.changes, readFileSync(changelogPath, 'utf8'));
  if (missing.length === 0) return true;
  console.error(
    [
      `${missing.length} golden decision(s) changed without an entry in ${relative(repoRoot, changelogPath)}; if intended, add under the new version:`,
      ...missing.map(describeChange),
    ].join('\n'),
  );
  return false;
}

export async function simulate(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        bundle: { type: 'string' },
        since: { type: 'string', default: '24h' },
        tenant: { type: 'string', multiple: true },
        golden: { type: 'boolean' },
        json: { type: 'boolean' },
        'database-url': { type: 'string' },
        'public-key': { type: 'string' },
        report: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help) {
      console.log(simulateUsage);
      return 0;
    }
    if (!values.bundle) throw new Error('--bundle is required');
    durationMs(values.since);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${simulateUsage}`);
    return 2;
  }

  const since = new Date(Date.now() - durationMs(values.since));
  const source = values.golden
    ? { kind: 'golden', file: relative(repoRoot, goldenPath) }
    : { kind: 'policy_decisions', since: since.toISOString(), tenants: values.tenant ?? null };
  let report: SimulationReport;
  try {
    if (values.golden) report = await replay(values.bundle, values['public-key'], goldenAsReplayed(readGolden()));
    else {
      const pool = createPgPool(values['database-url'] ?? stackDatabaseUrl, { max: 1 });
      try {
        report = await replay(values.bundle, values['public-key'], readRecordedDecisions(pool, { since, tenantIds: values.tenant }));
      } finally {
        await pool.end();
      }
    }
  } catch (error) {
    console.error(`simulation refused: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }

  const reportPath = resolve(values.report ?? defaultReportPath);
  mkdirSync(dirname(reportPath), { recursive: true });
  writeFileSync(reportPath, `${JSON.stringify({ source, ...report }, null, 2)}\n`);
  console.log(values.json ? JSON.stringify({ source, ...report }, null, 2) : formatSimulationReport(report));
  if (!values.json) console.log(`\nreport: ${relative(process.cwd(), reportPath)}`);
  return values.golden && !acknowledged(report) ? 1 : 0;
}

/** `policy:check`: the committed bundle against the golden set; false (printed) on a change CHANGES.md does not list. */
export async function checkGoldenDecisions(publicKeyPath: string | undefined): Promise<boolean> {
  return acknowledged(await replay(policyBundleDir, publicKeyPath, goldenAsReplayed(readGolden())));
}

/**
 * `npm run policy -- golden`: the matrix inputs with the committed bundle's
 * answers. Refused while the current set has a change CHANGES.md does not
 * list, so rewriting the set cannot hide one.
 */
export async function writeGoldenDecisions(): Promise<number> {
  if (existsSync(goldenPath) && !(await checkGoldenDecisions(undefined))) return 1;
  const bundle = await loadPolicyBundle(policyBundleDir, readArtifactPublicKey(devArtifactPublicKeyPath));
  const matrix = JSON.parse(readFileSync(matrixPath, 'utf8')) as { authz_matrix: { cases: { name: string; input: unknown }[] } };
  const golden: GoldenDecisions = {
    bundleVersion: bundle.version,
    decisions: matrix.authz_matrix.cases.map(({ name, input }) => {
      const { allow, reasonCode } = bundle.evaluate(input);
      return { name, input, allow, reasonCode };
    }),
  };
  writeFileSync(goldenPath, `${JSON.stringify(golden, null, 2)}\n`);
  console.log(`${relative(repoRoot, goldenPath)}: ${golden.decisions.length} decisions of bundle ${bundle.version}`);
  return 0;
}
