import type { PgClient } from '@coherence/platform';

/**
 * Lets the rest of the current transaction see every tenant's comms rows
 * (policy `comms_operator` in migrations/002). Only the worker's claim and
 * the operator API use it; everything else is scoped with `setTenant`.
 */
export async function setOperatorAccess(client: PgClient): Promise<void> {
  await client.query(`SELECT set_config('app.comms_operator', 'on', true)`);
}
