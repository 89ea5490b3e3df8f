import type { PgClient } from '@coherence/platform';

/**
 * Lets the rest of the current transaction see the commands, audit rows and
 * inbound messages of every tenant residing in `region`, and no other
 * tenant's (`comms_operator_access`, migrations/006, docs/adr/0015). Only the
 * worker's claim and transitions (its COMMS_REGION) and the operator API (the
 * region of the gateway's verified internal token) use it; everything else
 * is scoped with `setTenant`.
 */
export async function setOperatorAccess(client: PgClient, region: string): Promise<void> {
  await client.query('SELECT comms_operator_access($1)', [region]);
}
