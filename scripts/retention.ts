/**
 * Removes data past its time-to-live: `npm run retention -- [--dry-run] [--tenant-prefix P]`.
 *
 * TTLs, the database (as retention_app, docs/adr/0015) and Neo4j
 * come from the environment (RETENTION_* in .env.example). `--dry-run`
 * prints what would go — per dataset and tenant: count, oldest, newest — and
 * changes nothing. A live run deletes in bounded batches, each its own
 * transaction; Ctrl-C finishes the batch in flight and stops, and running
 * again continues where it stopped.
 */
import { createNeo4jDriver, createRetention, readRetentionConfig } from '@coherence/coherence';
import { tenantIdSchema } from '@coherence/contracts';
import { ConfigError, createPgPool } from '@coherence/platform';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { 'dry-run': { type: 'boolean' }, 'tenant-prefix': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log('usage: npm run retention -- [--dry-run] [--tenant-prefix PREFIX]');
  process.exit(0);
}
const tenantPrefix = values['tenant-prefix'];
// Taken literally (no wildcards); one no tenant id can start with is a mistake, not a filter that matches nothing.
if (tenantPrefix !== undefined && !tenantIdSchema.safeParse(tenantPrefix).success) {
  console.error(`INVALID_TENANT_PREFIX: no tenant id starts with ${JSON.stringify(tenantPrefix)} (letters, digits, ".", "_", ":" and "-")`);
  process.exit(2);
}

let config;
try {
  config = readRetentionConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}

const pool = createPgPool(config.RETENTION_DATABASE_URL, { max: 2 });
const driver = createNeo4jDriver(
  config.NEO4J_URL,
  config.NEO4J_USER && config.NEO4J_PASSWORD ? { user: config.NEO4J_USER, password: config.NEO4J_PASSWORD } : undefined,
);
const retention = createRetention({
  pool,
  driver,
  batchSize: config.RETENTION_BATCH_SIZE,
  ...(tenantPrefix === undefined ? {} : { tenantPrefix }),
  ttls: {
    signalsDays: config.RETENTION_SIGNALS_TTL_DAYS,
    graphDays: config.RETENTION_GRAPH_TTL_DAYS,
    outboxDays: config.RETENTION_OUTBOX_TTL_DAYS,
    policyDecisionsDays: config.RETENTION_POLICY_DECISIONS_TTL_DAYS,
    commsDays: config.RETENTION_COMMS_TTL_DAYS,
    commsEnvelopesDays: config.RETENTION_COMMS_ENVELOPES_TTL_DAYS,
    scoresHistoryDays: config.RETENTION_SCORES_HISTORY_TTL_DAYS,
    securityEventsDays: config.RETENTION_SECURITY_EVENTS_TTL_DAYS,
  },
});

try {
  const now = new Date();
  if (values['dry-run']) {
    const { rows, outcomes } = await retention.report(now);
    console.log('dry run: nothing is deleted\n');
    for (const outcome of outcomes) {
      console.log(`${outcome.dataset}: ${outcome.present ? `older than ${outcome.cutoff}` : 'not in this database'}`);
    }
    console.log('');
    console.table(rows);
    console.log(`would delete ${rows.reduce((n, row) => n + row.count, 0)} rows and nodes`);
  } else {
    const abort = new AbortController();
    process.once('SIGINT', () => {
      console.error('stopping after the batch in flight; run again to continue');
      abort.abort();
    });
    const outcomes = await retention.apply(now, {
      signal: abort.signal,
      onBatch: (dataset, deleted) => console.error(`${dataset}: deleted ${deleted}`),
    });
    console.table(outcomes);
  }
} finally {
  await driver.close();
  await pool.end();
}
