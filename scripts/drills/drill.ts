/**
 * `npm run drill -- <scenario> [--duration 20s] [--load http=10,kafka=50,reads=10,notifications=0.5] [--json] [--attach]`:
 * one fault drill under load, then reconciliation, then a report on stdout and
 * in reports/drill-<scenario>.json; exits 1 when a promise of the scenario is
 * broken (docs/runbooks/drills.md, docs/adr/0023-drills.md).
 */
import { writeReport } from '../bench/support/report';
import { parseCommandLine, usageError } from '../commandLine';
import { attachToDevStack, startDrillApplication } from './application';
import { backupRestoreMain } from './backupRestore';
import { parseDuration, parseRates } from './commandLineValues';
import { DEFAULT_RATES } from './load';
import { formatReport } from './report';
import { DEFAULT_DURATION_MS, runDrill } from './runDrill';
import { scenarios } from './scenarios';

const width = Math.max('backup-restore'.length, ...scenarios.map((scenario) => scenario.name.length));
const usage = `usage: npm run drill -- <scenario> [--duration 20s] [--load http=N,kafka=N,reads=N,notifications=N] [--json] [--attach]

Starts its own servers and application (every process its own OS process), drives a steady mixed load
(HTTP pushes, Kafka records, persisted reads, a subscription per tenant, notifications), injects the
fault, holds it, heals it, waits until healthy and caught up, and reconciles: every acknowledged signal
stored once in the ledger, in Neo4j and in the read model, every notification delivered once.
Prints a report, writes reports/drill-<scenario>.json, exits 1 when a promise is broken.

Scenarios:
  ${'backup-restore'.padEnd(width)}  backup and WAL archiving under load, restore to a time T, nothing acknowledged before T lost and
  ${''.padEnd(width)}  nothing after T restored, RPO and RTO (its own Postgres; options: npm run drill -- backup-restore --help)
${scenarios.map((scenario) => `  ${scenario.name.padEnd(width)}  ${scenario.summary}${scenario.needsOwnApplication ? ' [not with --attach]' : ''}`).join('\n')}

  --duration D   how long the fault is held: 500ms, 20s, 10m (default the scenario's, else ${DEFAULT_DURATION_MS / 1_000}s)
  --load L       per second: http (pushes of 5 signals), kafka (records), reads, notifications (new alerting
                 tenants); default ${Object.entries(DEFAULT_RATES)
                   .map(([kind, rate]) => `${kind}=${rate}`)
                   .join(',')}, kafka the scenario's where it has one
  --json         print the report as JSON instead of the table
  --keep         keep the drill's data and logs (a folder under the OS's temporary one, printed at start)
  --attach       drill the running dev stack (npm run stack, its documented ports) instead of starting one.
                 The stack's processes are its children and it stops everything when one dies, and its
                 servers are its own: scenarios that kill processes or fault servers are refused. Its comms
                 worker may not deliver to loopback, so no notifications are sent.
  -h, --help     this help`;

// The backup-restore drill runs its own cluster and application rather than a fault under the common load.
if (process.argv[2] === 'backup-restore') process.exit(await backupRestoreMain(process.argv.slice(3)));

const { values, positionals } = parseCommandLine(usage, {
  allowPositionals: true,
  options: {
    duration: { type: 'string' },
    load: { type: 'string' },
    json: { type: 'boolean' },
    attach: { type: 'boolean' },
    keep: { type: 'boolean' },
  },
});
if (positionals.length !== 1) usageError(usage, 'name one scenario');
const scenario = scenarios.find((candidate) => candidate.name === positionals[0]);
if (!scenario) usageError(usage, `unknown scenario ${positionals[0]}`);
if (values.attach && scenario.needsOwnApplication)
  usageError(usage, `${scenario.name} cannot run with --attach: it kills processes or faults servers only the drill's own application has`);
const durationMs = values.duration === undefined ? undefined : parseDuration(values.duration);
const rates = values.load === undefined ? {} : parseRates(values.load);
if (durationMs === null || rates === null) usageError(usage, 'unreadable --duration or --load');

// With --json, stdout is the report only; progress goes to stderr.
const log = (line: string) => (values.json ? console.error : console.log)(`[drill] ${line}`);
const appStarting = values.attach ? Promise.resolve(attachToDevStack()) : startDrillApplication({ log, keep: values.keep === true });
let stopping = false;
const stopAndExit = async (code: number) => {
  if (stopping) return;
  stopping = true;
  // One still starting is waited for, then stopped (startDrillApplication stops what it started itself when it fails).
  await appStarting.then(
    (app) => app.stop(),
    () => undefined,
  );
  process.exit(code);
};
// Registered before anything starts: the servers run in process groups of their own and would outlive a Ctrl-C.
process.on('SIGINT', () => void stopAndExit(130));
process.on('SIGTERM', () => void stopAndExit(143));
try {
  const report = await runDrill(await appStarting, scenario, { durationMs, rates, log });
  const path = writeReport(`drill-${scenario.name}.json`, report);
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  log(`report: ${path}`);
  await stopAndExit(report.pass ? 0 : 1);
} catch (error) {
  if (!stopping) console.error(`[drill] failed: ${error instanceof Error ? error.message : String(error)}`);
  await stopAndExit(1);
}
