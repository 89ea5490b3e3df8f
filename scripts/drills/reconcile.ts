/**
 * After the drill: whether everything acknowledged during it is where it must
 * be, exactly once (docs/runbooks/drills.md, "What good looks like"). Reads
 * the database as superuser (every tenant's rows) and Neo4j directly; only the
 * drill's own tenants (their common prefix) are looked at.
 */
import type { Receiver } from '@coherence/comms/testing';
import type { Driver } from 'neo4j-driver';
import type pg from 'pg';

export interface Reconciliation {
  acknowledged: { total: number; http: number; kafka: number };
  /** signal_ledger: acknowledged signals missing; signals stored more than once (its key forbids it; counted all the same). */
  ledger: { rows: number; acknowledgedMissing: number; duplicated: number; storedUnacknowledged: number };
  /** Neo4j: acknowledged signals without a :Signal node; signals with more than one. */
  graph: { nodes: number; acknowledgedMissing: number; duplicated: number };
  /** coherence_scores: per tenant, the signals its score counts (Σ sources.count) against its ledger rows. */
  readModel: { counted: number; ledgerRows: number; tenantsBehind: number; missing: number; duplicated: number };
  /**
   * Each notifying tenant whose alerting signal was acknowledged must have exactly one command, succeeded, and its
   * webhook at least one delivery (a delivery cut short by a kill is repeated with the same Idempotency-Key).
   */
  notifications: {
    expected: number;
    commands: number;
    succeeded: number;
    notFinal: number;
    missing: number;
    duplicated: number;
    deliveries: number;
    redelivered: number;
  };
  lost: number;
  duplicated: number;
}

export interface ReconcileInput {
  admin: pg.Pool;
  driver: Driver;
  tenantPrefix: string;
  acknowledged: ReadonlyMap<string, string>;
  acknowledgedBy: { http: number; kafka: number };
  notifyingTenants: readonly string[];
  receiver: Receiver | undefined;
}

export async function reconcile(input: ReconcileInput): Promise<Reconciliation> {
  const { admin, driver, tenantPrefix, acknowledged } = input;
  const like = `${tenantPrefix}%`;

  const ledgerRows = await admin.query<{ signal_id: string; n: number }>(
    'SELECT signal_id, count(*)::int AS n FROM signal_ledger WHERE tenant_id LIKE $1 GROUP BY signal_id',
    [like],
  );
  const inLedger = new Map(ledgerRows.rows.map((row) => [row.signal_id, row.n]));
  const ledger = {
    rows: sum(ledgerRows.rows.map((row) => row.n)),
    acknowledgedMissing: [...acknowledged.keys()].filter((id) => !inLedger.has(id)).length,
    duplicated: sum(ledgerRows.rows.map((row) => row.n - 1)),
    storedUnacknowledged: [...inLedger.keys()].filter((id) => !acknowledged.has(id)).length,
  };

  const { records } = await driver.executeQuery(
    'MATCH (s:Signal) WHERE s.tenantId STARTS WITH $prefix RETURN s.signalId AS id, count(*) AS n',
    { prefix: tenantPrefix },
    { database: 'neo4j' },
  );
  const inGraph = new Map(records.map((record) => [record.get('id') as string, Number(record.get('n'))]));
  const graph = {
    nodes: sum([...inGraph.values()]),
    acknowledgedMissing: [...acknowledged.keys()].filter((id) => !inGraph.has(id)).length,
    duplicated: sum([...inGraph.values()].map((n) => n - 1)),
  };

  const perTenant = await admin.query<{ tenant_id: string; ledger: number; counted: number | null }>(
    `SELECT l.tenant_id, l.n AS ledger,
            (SELECT sum((s->>'count')::int)::int FROM coherence_scores c, jsonb_array_elements(c.sources) s WHERE c.tenant_id = l.tenant_id) AS counted
       FROM (SELECT tenant_id, count(*)::int AS n FROM signal_ledger WHERE tenant_id LIKE $1 GROUP BY tenant_id) l`,
    [like],
  );
  const readModel = {
    counted: sum(perTenant.rows.map((row) => row.counted ?? 0)),
    ledgerRows: sum(perTenant.rows.map((row) => row.ledger)),
    tenantsBehind: perTenant.rows.filter((row) => (row.counted ?? 0) < row.ledger).length,
    missing: sum(perTenant.rows.map((row) => Math.max(0, row.ledger - (row.counted ?? 0)))),
    duplicated: sum(perTenant.rows.map((row) => Math.max(0, (row.counted ?? 0) - row.ledger))),
  };

  const commands = await admin.query<{ tenant_id: string; state: string }>(
    'SELECT tenant_id, state FROM dispatch_commands WHERE tenant_id = ANY($1)',
    [input.notifyingTenants],
  );
  const commandsOf = (tenantId: string) => commands.rows.filter((row) => row.tenant_id === tenantId);
  const deliveriesTo = (tenantId: string) => input.receiver?.to(`/${tenantId}`).length ?? 0;
  const notifications = {
    expected: input.notifyingTenants.length,
    commands: commands.rows.length,
    succeeded: commands.rows.filter((row) => row.state === 'succeeded').length,
    notFinal: commands.rows.filter((row) => row.state !== 'succeeded' && row.state !== 'cancelled').length,
    missing: input.notifyingTenants.filter((t) => commandsOf(t).length === 0 || deliveriesTo(t) === 0).length,
    duplicated: sum(input.notifyingTenants.map((t) => Math.max(0, commandsOf(t).length - 1))),
    deliveries: sum(input.notifyingTenants.map(deliveriesTo)),
    redelivered: sum(input.notifyingTenants.map((t) => Math.max(0, deliveriesTo(t) - 1))),
  };

  return {
    acknowledged: { total: acknowledged.size, ...input.acknowledgedBy },
    ledger,
    graph,
    readModel,
    notifications,
    lost: ledger.acknowledgedMissing + graph.acknowledgedMissing + readModel.missing + notifications.missing + notifications.notFinal,
    duplicated: ledger.duplicated + graph.duplicated + readModel.duplicated + notifications.duplicated,
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
