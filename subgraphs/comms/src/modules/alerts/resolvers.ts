import { inTransaction, setTenant, type PgPool, type SubgraphContext } from '@coherence/platform';

export type AlertsContext = SubgraphContext & { pool: PgPool };

async function countOpenAlerts(pool: PgPool, tenantId: string): Promise<number> {
  return inTransaction(pool, async (client) => {
    await setTenant(client, tenantId);
    const { rows } = await client.query<{ open: number }>(
      `SELECT count(*)::int AS open FROM dispatch_commands WHERE state = 'troubleshooting'`,
    );
    return rows[0]?.open ?? 0;
  });
}

export const alertsResolvers = {
  CoherenceScore: {
    __resolveReference: (reference: { tenantId: string }) => reference,
    openAlerts: (score: { tenantId: string }, _args: unknown, context: AlertsContext) => countOpenAlerts(context.pool, score.tenantId),
  },
};
