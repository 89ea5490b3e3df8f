/**
 * Brings a database up to date with every service's migrations, in the order
 * the stack and the tests apply them: `npm run migrate -- --database-url <url>`.
 * Safe to run again (applied files are skipped, an edited one is refused) and
 * beside a running migrator (they take turns on an advisory lock).
 */
import { parseArgs } from 'node:util';

/** The dev stack's database (scripts/stack.ts), as its superuser over loopback. */
const stackDatabaseUrl = 'postgres://postgres@127.0.0.1:5432/coherence';

const help = `usage: npm run migrate [-- --database-url <url>]

Applies the migrations of ingest, platform, gateway, coherence and comms that the
database does not have yet, and lists them.

  --database-url <url>  a superuser of an existing database (the migrations create roles);
                        default ${stackDatabaseUrl} (the dev stack)
  -h, --help            this help

Exit codes: 0 done, 1 a migration failed (the pending files of that service are rolled back), 2 usage.`;

let values: { 'database-url'?: string | undefined; help?: boolean | undefined };
try {
  ({ values } = parseArgs({ options: { 'database-url': { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n\n${help}`);
  process.exit(2);
}
if (values.help) {
  console.log(help);
  process.exit(0);
}

const databaseUrl = values['database-url'] ?? stackDatabaseUrl;
// Loaded only now: the test kit pulls in every server's client (seconds), which --help does not need.
const { migrateDatabase } = await import('@coherence/testkit');
try {
  const applied = await migrateDatabase(databaseUrl);
  console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'the database is up to date');
} catch (error) {
  console.error(`migrating ${redactPassword(databaseUrl)} failed: ${error instanceof Error ? error.message : String(error)}`);
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
