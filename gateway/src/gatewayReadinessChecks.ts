import type { PgPool, ReadinessCheck } from '@coherence/platform';
import type { PolicyEngine } from '@coherence/policy';
import type { SubgraphName } from './supergraph/subgraphs';

/** How long one subgraph's /healthz may take before the gateway counts it as not ready. */
const SUBGRAPH_REACHABLE_TIMEOUT_MS = 2_000;

/**
 * Ready when every subgraph answers `/healthz` on the listener the gateway
 * calls (the network path works and the process lives; whether its own
 * dependencies answer is its own readiness, on its admin listener, which the
 * gateway does not need: docs/adr/0016-admin-listeners.md), Postgres
 * answers, and a policy bundle is active (without one every request is denied).
 */
export function gatewayReadinessChecks(options: {
  subgraphUrls: Record<SubgraphName, string>;
  pool: PgPool;
  policy: PolicyEngine;
}): ReadinessCheck[] {
  return [
    ...Object.entries(options.subgraphUrls).map(([name, url]) => ({
      name: `subgraph:${name}`,
      check: async () => {
        const response = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(SUBGRAPH_REACHABLE_TIMEOUT_MS) });
        if (!response.ok) throw new Error(`healthz answered ${response.status}`);
      },
    })),
    { name: 'postgres', check: async () => void (await options.pool.query('SELECT 1')) },
    {
      name: 'policy',
      check: async () => {
        if (!options.policy.activeBundle()) throw new Error('no policy bundle is active: every request is denied');
      },
    },
  ];
}
