/**
 * The graph's operator commands: `npm run graph:rebuild -- [--tenant ID]… [--dry-run] [--json]`.
 * See docs/runbooks/graph-rebuild.md.
 */
import { createGraphRebuild, createNeo4jDriver, readGraphRebuildConfig, type TenantProgress } from '@coherence/coherence';
import { tenantIdSchema } from '@coherence/contracts';
import { ConfigError, createPgPool } from '@coherence/platform';
import { parseCommandLine, usageError } from './commandLine';

/** rebuild_app on the database of `npm run stack` (and .env.example), so the command works as is next to the stack. */
const LOCAL_STACK_URL = 'postgres://rebuild_app@127.0.0.1:5432/coherence';

const help = `usage: npm run graph:rebuild -- [options]

Rebuilds Neo4j, then each tenant's score, from the Postgres signal ledger
(docs/runbooks/graph-rebuild.md). Only adds what the graph is missing, so it
is safe beside a running relay and over a partial graph. Checkpoints after
every batch: a run that crashed or was stopped (Ctrl-C) resumes there.

  --tenant <id>        only this tenant (repeatable); default every tenant with ledger rows
  --dry-run            print, per tenant, the ledger and graph signal counts and any
                       checkpoint to resume; change nothing
  --json               print the result as JSON (one document) instead of a table
  -h, --help           this help

Environment: REBUILD_DATABASE_URL (rebuild_app; default ${LOCAL_STACK_URL}),
NEO4J_URL, NEO4J_USER, NEO4J_PASSWORD, REBUILD_BATCH_SIZE (2000),
COHERENCE_WINDOW_HOURS (24).

Exit status: 0 done, 1 failed or stopped before the end, 2 usage or configuration.`;

const usage = (problem: string) => usageError(help, problem);

const { values, positionals } = parseCommandLine(help, {
  allowPositionals: true,
  options: {
    tenant: { type: 'string', multiple: true },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
  },
});
if (positionals[0] !== 'rebuild' || positionals.length > 1) usage('the one command is: rebuild');
const badTenant = (values.tenant ?? []).find((id) => !tenantIdSchema.safeParse(id).success);
if (badTenant !== undefined) usage(`INVALID_TENANT_ID: ${JSON.stringify(badTenant)} is not a tenant id`);

let config;
try {
  config = readGraphRebuildConfig({ REBUILD_DATABASE_URL: LOCAL_STACK_URL, ...process.env });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}

const pool = createPgPool(config.REBUILD_DATABASE_URL, { max: 1 });
const driver = createNeo4jDriver(
  config.NEO4J_URL,
  config.NEO4J_USER && config.NEO4J_PASSWORD ? { user: config.NEO4J_USER, password: config.NEO4J_PASSWORD } : undefined,
);
const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`${signal}: stopping after the batch in flight; run again to resume`);
    stop.abort();
  });
}

/** One line per tenant per 5 % (and at its end): progress without flooding the terminal. */
function progressPrinter() {
  const printed = new Map<string, number>();
  return ({ tenantId, projected, total }: TenantProgress) => {
    const percent = total === 0 ? 100 : Math.min(100, Math.floor((projected / total) * 100));
    if (percent - (printed.get(tenantId) ?? -5) < 5 && projected < total) return;
    printed.set(tenantId, percent);
    console.error(`  ${tenantId}: ${projected.toLocaleString('en')} / ${total.toLocaleString('en')} signals (${percent} %)`);
  };
}

const rebuild = createGraphRebuild({
  pool,
  driver,
  windowHours: config.COHERENCE_WINDOW_HOURS,
  batchSize: config.REBUILD_BATCH_SIZE,
  signal: stop.signal,
  ...(values.json ? {} : { onProgress: progressPrinter() }),
});

try {
  const tenants = await rebuild.tenants(values.tenant);
  if (values['dry-run']) {
    const plans = await rebuild.plan(tenants);
    if (values.json) console.log(JSON.stringify({ dryRun: true, tenants: plans }, null, 2));
    else {
      console.log(`dry run: ${plans.length} tenant(s); nothing changed`);
      for (const plan of plans)
        console.log(
          `  ${plan.tenantId}: ledger ${plan.ledgerSignals}, graph ${plan.graphSignals}` +
            (plan.resumeAfter === null ? '' : `, resumes after ${plan.resumeAfter} signals`),
        );
    }
  } else {
    const started = Date.now();
    const results = await rebuild.run(tenants);
    const seconds = (Date.now() - started) / 1_000;
    const complete = results.length === tenants.length && results.every((result) => result.finished);
    if (values.json) console.log(JSON.stringify({ complete, seconds, tenants: results }, null, 2));
    else {
      for (const result of results) {
        const score = result.score
          ? `score ${result.score.score ?? 'none'} ${result.score.status}${result.score.changed ? ' (changed)' : ''}`
          : 'stopped';
        console.log(`  ${result.tenantId}: ${result.signals} signals${result.resumed ? ' (resumed)' : ''}, ${score}`);
      }
      console.log(
        `${complete ? 'rebuilt' : 'STOPPED before the end:'} ${results.filter((r) => r.finished).length}/${tenants.length} tenant(s) in ${seconds.toFixed(1)} s`,
      );
    }
    if (!complete) process.exitCode = 1;
  }
} catch (error) {
  console.error(`graph rebuild failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await driver.close();
  await pool.end();
}
