/**
 * Brings a database up to date with every service's migrations, in the order
 * the stack and the tests apply them: `npm run migrate -- --database-url <url>`.
 * Safe to run again (applied files are skipped, an edited one is refused) and
 * beside a running migrator (they take turns on an advisory lock);
 * `--dry-run` lists what would be applied and changes nothing.
 */
import { parseArgs } from 'node:util';

/** The dev stack's database (scripts/stack.ts), as its superuser over loopback. */
const stackDatabaseUrl = 'postgres://postgres@127.0.0.1:5432/coherence';

const help = `usage: npm run migrate [-- --database-url <url>] [--dry-run]

Applies the migrations of ingest, platform, gateway, coherence and comms that the
database does not have yet, in one transaction, and lists them.

  --database-url <url>  a superuser of an existing database (the migrations create roles);
                        default ${stackDatabaseUrl} (the dev stack)
  --dry-run             list the pending migrations (service/file, in order) and apply nothing
  -h, --help            this help

Exit codes: 0 done (or listed), 1 refused or failed (nothing applied; MIGRATION_CHECKSUM_MISMATCH:
a migration was edited after it was applied), 2 usage.`;

let values: { 'database-url'?: string | undefined; 'dry-run'?: boolean | undefined; help?: boolean | undefined };
try {
  ({ values } = parseArgs({
    options: { 'database-url': { type: 'string' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  }));
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n\n${help}`);
  process.exit(2);
}
if (values.help) {
  console.log(help);
  process.exit(0);
}

const databaseUrl = values['database-url'] ?? stackDatabaseUrl;
// Loaded only now: the platform package pulls in its server libraries, which --help does not need.
const { migrateDatabase, pendingMigrations } = await import('@coherence/migrations');
try {
  if (values['dry-run']) {
    const pending = await pendingMigrations(databaseUrl);
    console.log(pending.length > 0 ? `pending (${pending.length}), dry run: nothing applied` : 'the database is up to date');
    for (const migration of pending) console.log(`  ${migration}`);
  } else {
    const applied = await migrateDatabase(databaseUrl);
    console.log(applied.length > 0 ? `applied (${applied.length}):` : 'the database is up to date');
    for (const migration of applied) console.log(`  ${migration}`);
  }
} catch (error) {
  const code = error instanceof Error && 'code' in error && typeof error.code === 'string' ? `${error.code}: ` : '';
  console.error(`migrating ${redactPassword(databaseUrl)} failed: ${code}${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

/** The URL as it may be printed: a password in it is replaced. */
function redactPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(the --database-url given)';
  }
}
