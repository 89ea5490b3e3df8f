import { aggregateBySource, aggregateWindow, computeCoherence } from '@coherence/coherence';
import type { PgPool } from '@coherence/platform';
import type { Driver } from 'neo4j-driver';
import { isDeepStrictEqual } from 'node:util';

export interface TenantRebuildCheck {
  tenantId: string;
  ledgerSignals: number;
  graphSignals: number;
  /** The read model's score after the rebuild, and the one computed here from the restored ledger alone. */
  storedScore: number | null;
  expectedScore: number | null;
  storedStatus: string | null;
  expectedStatus: string;
  matches: boolean;
}

const byName = <T extends { source: string }>(items: readonly T[]) => [...items].sort((a, b) => (a.source < b.source ? -1 : 1));

/**
 * Whether the graph rebuild restored what the restored ledger holds: per
 * tenant and source, as many signals in Neo4j as ledger rows, and the read
 * model's score, status and per-source scores equal to those computed here
 * straight from the ledger rows with the product's pure score function (no
 * graph involved). The drill's signals all lie inside the score window
 * (their `ts` is a second before they were sent).
 */
export async function checkRebuiltGraph(admin: PgPool, driver: Driver, tenantIds: readonly string[]): Promise<TenantRebuildCheck[]> {
  const checks: TenantRebuildCheck[] = [];
  for (const tenantId of tenantIds) {
    const { rows: ledger } = await admin.query<{ source: string; value: number; weight: number }>(
      'SELECT source, value, weight FROM signal_ledger WHERE tenant_id = $1',
      [tenantId],
    );
    const expected = computeCoherence(aggregateBySource(ledger));
    const ledgerCounts = byName(aggregateBySource(ledger)).map(({ source, count }) => ({ source, count }));
    // A window from the epoch: every signal of the tenant the graph holds, whatever its ts.
    const graph = await aggregateWindow(driver, tenantId, new Date(), Date.now());
    const graphCounts = byName(graph).map(({ source, count }) => ({ source, count }));
    const { rows } = await admin.query<{
      score: number | null;
      status: string;
      sources: { source: string; score: number; count: number }[];
    }>('SELECT score, status, sources FROM coherence_scores WHERE tenant_id = $1', [tenantId]);
    const stored = rows[0];
    const matches =
      isDeepStrictEqual(graphCounts, ledgerCounts) &&
      stored !== undefined &&
      stored.score === expected.score &&
      stored.status === expected.status &&
      isDeepStrictEqual(byName(stored.sources), byName(expected.sources));
    checks.push({
      tenantId,
      ledgerSignals: ledger.length,
      graphSignals: graph.reduce((sum, aggregate) => sum + aggregate.count, 0),
      storedScore: stored?.score ?? null,
      expectedScore: expected.score,
      storedStatus: stored?.status ?? null,
      expectedStatus: expected.status,
      matches,
    });
  }
  return checks;
}
