/**
 * `npm run bench [-- --short]`: every benchmark of scripts/bench, one process
 * at a time, then one summary of issue 18's figures (target, same-run
 * baseline, ratio, pass/fail) in reports/bench-summary.json and as a table,
 * with the date and the machine's load average. Each bench's own JSON report
 * is read, never its output; a bench that fails or writes no report leaves
 * its figures "not measured" and the next bench still runs.
 *
 * The default settings measure what the targets name (60 s of ingest at
 * 3,000/s, 1,000 subscribers, three golden runs); --short cuts every bench down to prove the
 * command and the benches work, not to judge a target. Figures depend on
 * what else the machine runs: compare runs only on a quiet machine.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseScriptArgs } from '../commandLine';
import { describeMachine, repoRoot, watchMachine, writeReport } from './support/report';
import { figureTable, issue18Figures, type BenchReports } from './support/summary';

const usage = `usage: npm run bench [-- --short]

Runs every benchmark in turn (ingest, gateway, cache, fanout, policy, regions, bus, golden), then writes
reports/bench-summary.json and prints issue 18's figures against their targets.
  --short  a few seconds of load per bench: proves the command works, judges nothing`;
const { short = false } = parseScriptArgs(usage, { short: { type: 'boolean' } });

interface Bench {
  name: string;
  /** Arguments for the default run and for --short. */
  args: { full: string[]; short: string[] };
}
const benches: Bench[] = [
  {
    name: 'ingest',
    args: {
      full: ['--duration', '60', '--batch-duration', '5', '--policy-duration', '8'],
      short: ['--duration', '10', '--batch-duration', '2', '--policy-duration', '4'],
    },
  },
  {
    name: 'gateway',
    args: { full: ['--duration', '20', '--rounds', '4', '--warmup', '3'], short: ['--duration', '6', '--rounds', '2', '--warmup', '2'] },
  },
  { name: 'cache', args: { full: ['--duration', '20'], short: ['--duration', '4'] } },
  { name: 'fanout', args: { full: [], short: ['--rounds', '5'] } },
  { name: 'policy', args: { full: [], short: [] } },
  { name: 'regions', args: { full: ['--requests', '100', '--rounds', '2'], short: ['--requests', '30', '--rounds', '1'] } },
  { name: 'bus', args: { full: ['--commands', '1000', '--samples', '100'], short: ['--commands', '300', '--samples', '30'] } },
  { name: 'golden', args: { full: [], short: ['--runs', '1', '--warmup', '0'] } },
];

const reportPath = (name: string) => join(repoRoot, 'reports', `bench-${name}.json`);
const say = (message: string) => console.log(`[bench] ${message}`);

function runBench(bench: Bench): Promise<number> {
  const args = short ? bench.args.short : bench.args.full;
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, `${bench.name}.ts`), ...args], {
    cwd: repoRoot,
    stdio: 'inherit',
  });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128))));
}

const machine = watchMachine();
const startedAt = Date.now();
const runs = [];
for (const [i, bench] of benches.entries()) {
  // A report left by an earlier run must not pass for this one's.
  rmSync(reportPath(bench.name), { force: true });
  const args = short ? bench.args.short : bench.args.full;
  say(`${i + 1}/${benches.length} bench:${bench.name} ${args.join(' ')}`.trimEnd());
  const benchStartedAt = Date.now();
  const exitCode = await runBench(bench);
  const seconds = Math.round((Date.now() - benchStartedAt) / 1_000);
  const wroteReport = existsSync(reportPath(bench.name));
  say(`${i + 1}/${benches.length} bench:${bench.name} exited ${exitCode} after ${seconds} s${wroteReport ? '' : ', no report'}`);
  runs.push({ bench: bench.name, args, exitCode, seconds, report: wroteReport ? `reports/bench-${bench.name}.json` : null });
}

const read = <T>(name: string): T | undefined =>
  existsSync(reportPath(name)) ? (JSON.parse(readFileSync(reportPath(name), 'utf8')) as T) : undefined;
const reports: BenchReports = {
  ingest: read<BenchReports['ingest']>('ingest'),
  gateway: read<BenchReports['gateway']>('gateway'),
  fanout: read<BenchReports['fanout']>('fanout'),
  golden: read<BenchReports['golden']>('golden'),
};
const figures = issue18Figures(reports);
const summary = {
  when: new Date().toISOString(),
  settings: short ? 'short (a smoke run: judges nothing)' : 'full',
  machine: machine.report(),
  seconds: Math.round((Date.now() - startedAt) / 1_000),
  runs,
  figures,
};
writeReport('bench-summary.json', summary);
console.log(`
npm run bench${short ? ' -- --short' : ''}: ${summary.when}, ${summary.seconds} s (${describeMachine(summary.machine)})

${figureTable(figures)}

benches: ${runs.map((run) => `${run.bench} ${run.exitCode === 0 ? 'ok' : `exit ${run.exitCode}`}`).join(', ')}
report: reports/bench-summary.json`);
// A bench that wrote no report is broken (a missed target still writes one): that fails the command.
process.exit(runs.every((run) => run.report !== null) ? 0 : 1);
