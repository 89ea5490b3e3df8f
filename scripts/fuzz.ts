/**
 * Runs the fuzz targets in e2e/fuzz/ for longer than the test command does,
 * or replays a failure: `npm run fuzz -- --runs 2000`, `npm run fuzz -- --target kafka --seed 42 --path 7:0:3`.
 * The targets run under Vitest against the real servers (started by the test
 * kit, as for the end-to-end tests); the cases and the seed reach them
 * through FUZZ_RUNS, FUZZ_SEED and FUZZ_PATH (e2e/fuzz/fuzzConfig.ts).
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const repoRoot = resolve(import.meta.dirname, '..');

/** Each target's name (as its seed line prints it) and file. */
const targets: Record<string, string> = {
  'ingest-http': 'e2e/fuzz/ingestHttp.fuzz.e2e.ts',
  kafka: 'e2e/fuzz/kafkaRecords.fuzz.e2e.ts',
  gateway: 'e2e/fuzz/gatewayRequests.fuzz.e2e.ts',
  claims: 'e2e/fuzz/tokenClaims.fuzz.e2e.ts',
};

const DEFAULT_RUNS = 1_000;

const help = `usage: npm run fuzz -- [--runs <n>] [--seed <seed> [--path <path>]] [--target <name>]…

Runs the fuzz properties of e2e/fuzz/ against the real servers (started for
the run, like the end-to-end tests) and prints the seed of every target, so a
failure can be replayed. The test command runs the same targets with a fixed
seed each and a bounded number of cases (see each file).

  --runs <n>        cases per target; default ${DEFAULT_RUNS}
  --seed <seed>     fast-check seed (an integer) for every target; default a random one, printed
  --path <path>     replay exactly the counterexample a failure printed (with its --seed and one --target)
  --target <name>   repeatable; one of ${Object.keys(targets).join(', ')}; default all
  -h, --help        this help

Examples:
  npm run fuzz -- --runs 3000                              a longer hunt with a random seed
  npm run fuzz -- --target gateway --seed 12003 --runs 500 the gateway target as the test command runs it
  npm run fuzz -- --target kafka --seed 42 --path 17:0:3   replay a failure`;

function fail(message: string): never {
  console.error(`${message}\n\n${help}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      path: { type: 'string' },
      target: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (error) {
  fail((error as Error).message);
}
const { values } = parsed;

if (values.help) {
  console.log(help);
  process.exit(0);
}

const runs = Number(values.runs ?? DEFAULT_RUNS);
if (!Number.isInteger(runs) || runs <= 0) fail('--runs must be a positive integer');
const seed = values.seed === undefined ? randomInt(0, 2 ** 31 - 1) : Number(values.seed);
if (!Number.isInteger(seed)) fail('--seed must be an integer');
const names = values.target ?? Object.keys(targets);
const unknown = names.filter((name) => !(name in targets));
if (unknown.length > 0) fail(`unknown target ${unknown.join(', ')}`);
if (values.path !== undefined) {
  if (!/^\d+(:\d+)*$/.test(values.path)) fail('--path is the colon-separated path a failure printed, e.g. 17:0:3');
  if (values.seed === undefined || names.length !== 1) fail('--path replays one failure: give its --seed and its one --target');
}

const replay = values.path
  ? `npm run fuzz -- --target ${names[0]} --seed ${seed} --path ${values.path}`
  : `npm run fuzz -- --seed ${seed} --runs ${runs}${names.map((name) => ` --target ${name}`).join('')}`;
console.log(
  values.path
    ? `[fuzz] ${names[0]}: replaying the counterexample at seed ${seed}, path ${values.path}`
    : `[fuzz] ${names.join(', ')}: ${runs} cases each, seed ${seed}`,
);
console.log(`[fuzz] replay: ${replay}`);

const child = spawn('npx', ['vitest', 'run', '--project', 'integration', ...names.map((name) => targets[name]!)], {
  cwd: repoRoot,
  stdio: 'inherit',
  env: {
    ...process.env,
    FUZZ_RUNS: String(runs),
    FUZZ_SEED: String(seed),
    ...(values.path ? { FUZZ_PATH: values.path } : {}),
  },
});
// Ctrl-C reaches Vitest directly (same process group); these are for a signal sent to this pid alone.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  if (code !== 0) console.error(`[fuzz] failed; each failure printed its seed, path and replay command above; this run again: ${replay}`);
  process.exit(code ?? (signal ? 1 : 0));
});
