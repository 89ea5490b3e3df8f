import type { PgPool } from '@coherence/platform';
import { randomUUID } from 'node:crypto';
import { sendCommand } from '../bus/sendCommand';

/**
 * Two webhook commands of `tenantId` for operator tests: `open` moved to
 * troubleshooting (what the operator queue lists), `waiting` still pending.
 * `pool` sends them as the app role; `admin` (a superuser) moves `open`.
 */
export async function seedOperatorCommands(pool: PgPool, admin: PgPool, tenantId: string): Promise<{ open: string; waiting: string }> {
  const [open, waiting] = [randomUUID(), randomUUID()];
  for (const commandId of [open, waiting])
    await sendCommand(pool, {
      commandId,
      tenantId,
      type: 'notify.webhook',
      idempotencyKey: commandId,
      correlationId: `corr-${commandId}`,
      payload: { contactId: 'ops', url: 'https://example.com/hook', body: {} },
      maxAttempts: 5,
    });
  await admin.query(`UPDATE dispatch_commands SET state = 'troubleshooting', updated_at = clock_timestamp() WHERE command_id = $1`, [open]);
  return { open, waiting };
}
