/**
 * Outbox events the relay gave up on: `npm run outbox -- list|retry|drop`.
 * See docs/runbooks/outbox-quarantine.md and docs/adr/0008.
 */
import { dropQuarantined, listQuarantined, listRetrying, retryQuarantined, type QuarantineChange } from '@coherence/coherence';
import { createPgPool } from '@coherence/platform';
import { parseCommandLine, usageError } from './commandLine';

/** The relay's database in `npm run stack` (and .env.example), so the command printed by the stack works as is. */
const LOCAL_STACK_URL = 'postgres://relay_app@127.0.0.1:5432/coherence';

const help = `usage: npm run outbox -- <command> [options]

Outbox events the relay could not project (docs/runbooks/outbox-quarantine.md).

  list                 quarantined events, then pending events that failed and wait for a retry
  retry <id>… | --all  put quarantined events back into the outbox, in their original order;
                       the relay projects them again (fix the cause first)
  drop <id>… --yes     delete quarantined events for good (the relay never projects them)

  --database-url <url> the relay's database as relay_app; default $RELAY_DATABASE_URL,
                       else the local stack's (${LOCAL_STACK_URL})
  --all                retry: every quarantined event
  --yes                drop: confirm
  -h, --help           this help

Exit status: 0 done, 1 an id is not in quarantine (nothing changed) or the database failed, 2 usage.`;

const usage = (problem: string) => usageError(help, problem);

const { values, positionals } = parseCommandLine(help, {
  allowPositionals: true,
  options: {
    'database-url': { type: 'string' },
    all: { type: 'boolean' },
    yes: { type: 'boolean' },
  },
});
const [command, ...ids] = positionals;
const badId = ids.find((id) => !/^[1-9][0-9]{0,18}$/.test(id));
if (badId !== undefined) usage(`"${badId}" is not an outbox id`);
const databaseUrl = values['database-url'] ?? process.env['RELAY_DATABASE_URL'] ?? LOCAL_STACK_URL;

/** Runs a command's change and reports it; an unknown id changes nothing and exits 1. */
function report(change: QuarantineChange, done: string): void {
  if (!change.ok) {
    console.error(`not in quarantine: ${change.missing.join(', ')}; nothing changed`);
    process.exitCode = 1;
    return;
  }
  console.log(change.ids.length === 0 ? 'quarantine is empty; nothing changed' : `${done}: ${change.ids.join(', ')}`);
}

const pool = createPgPool(databaseUrl, { max: 1 });
try {
  switch (command) {
    case 'list': {
      if (ids.length > 0) usage('list takes no ids');
      const quarantined = await listQuarantined(pool);
      console.log(`quarantined: ${quarantined.length}`);
      for (const event of quarantined) {
        console.log(
          `  ${event.id}  tenant ${event.tenantId}  attempts ${event.attempts}  first ${event.firstSeen}  last ${event.lastSeen}\n    error: ${event.error}`,
        );
      }
      const retrying = await listRetrying(pool);
      console.log(`retrying: ${retrying.length}`);
      for (const event of retrying) {
        console.log(
          `  ${event.id}  tenant ${event.tenantId}  attempts ${event.attempts}  first ${event.firstSeen}  next ${event.nextAttemptAt}\n    error: ${event.error}`,
        );
      }
      break;
    }
    case 'retry':
      if (values.all === ids.length > 0) usage('retry takes ids or --all');
      report(await retryQuarantined(pool, values.all ? 'all' : ids), 'back in the outbox');
      break;
    case 'drop':
      if (ids.length === 0) usage('drop takes ids');
      if (!values.yes) usage('drop deletes events for good; add --yes');
      report(await dropQuarantined(pool, ids), 'dropped');
      break;
    default:
      usage(command === undefined ? 'a command is required' : `unknown command "${command}"`);
  }
} catch (error) {
  // Most likely the database cannot be reached or the role lacks a grant: the message says which, a stack trace would not add to it.
  console.error(`${databaseUrl.replace(/\/\/[^@]*@/, '//…@')}: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await pool.end();
}
