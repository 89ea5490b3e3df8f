import { policyDecisionSchema, type PolicyDecision } from '@coherence/contracts';
import { createTenantBatchWriter, type Logger, type PgPool } from '@coherence/platform';
import { policyInputSchema, type PolicyInput } from './buildPolicyInput';

export interface DecisionRecorderOptions {
  pool: PgPool;
  logger: Logger;
  /** The region of the service deciding (the gateway's or ingest's), stored with every decision. */
  region: string;
  /** Flush at least this often while decisions are waiting. */
  flushMs: number;
  /** Flush at once when this many are waiting. */
  batchSize: number;
  /** At most this many unwritten decisions (the database is down); beyond it they are dropped and counted. Default 100_000. */
  maxPending?: number;
  /**
   * Check each decision against the PolicyDecision contract and the strict
   * policy input before queueing it (default true). Both are built by typed
   * code from verified parts (`buildPolicyInput` copies named fields only),
   * so a failure is a bug of the service deciding: the services check
   * outside production, where the tests and the dev stack run, and not in
   * it, where the two parses were 4 % of a cached read's CPU and more of an
   * ingest push's (docs/adr/0013-ingest-write-policy.md).
   */
  checkContracts?: boolean;
  /**
   * Called with the number of decisions dropped: `overflow` beyond
   * `maxPending`, `refused` when Postgres refuses a decision's values.
   */
  onDropped?: (count: number, reason: 'overflow' | 'refused') => void;
}

/** What a shadow bundle answered for the same input (GATEWAY_SHADOW_BUNDLE_DIR, docs/adr/0027-policy-simulation.md). */
export interface ShadowVerdict {
  allow: boolean;
  reasonCode: string;
  bundleSha256: string;
}

/**
 * A decision plus what the audit table keeps beyond the contract: the input
 * the bundle decided (replayed by `npm run policy -- simulate`) and, in
 * shadow mode, the shadow bundle's answer.
 */
export type RecordedDecision = PolicyDecision & { clientId: string | null; input: PolicyInput; shadow?: ShadowVerdict | undefined };

/**
 * Writes policy decisions to `policy_decisions` off the request path,
 * batched per tenant like security events (the platform's
 * `createTenantBatchWriter`: retried while the database is down, a refused
 * row set aside). Decisions are never aggregated: each is one row.
 */
export function createDecisionRecorder(options: DecisionRecorderOptions) {
  const checkContracts = options.checkContracts ?? true;
  const writer = createTenantBatchWriter<RecordedDecision>({
    logger: options.logger,
    what: 'policy decisions',
    tenantOf: (decision) => decision.tenantId,
    flushMs: options.flushMs,
    batchSize: options.batchSize,
    maxPending: options.maxPending ?? 100_000,
    ...(options.onDropped ? { onDropped: options.onDropped } : {}),
    // One round trip for the whole batch: the function sets each decision's tenant (gateway migration 008).
    insert(decisions) {
      const column = <K extends keyof RecordedDecision>(key: K) => decisions.map((d) => d[key]);
      return options.pool.query(
        `SELECT policy_decisions_insert($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
           $7::boolean[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::jsonb[], $14::text[],
           $15::boolean[], $16::text[], $17::text)`,
        [
          column('decisionId'),
          column('tenantId'),
          column('subject'),
          column('clientId'),
          column('operationId'),
          column('operationType'),
          column('allow'),
          column('reasonCode'),
          column('explanation'),
          column('bundleSha256'),
          column('correlationId'),
          column('decidedAt'),
          decisions.map((d) => JSON.stringify(d.input)),
          decisions.map((d) => d.shadow?.bundleSha256 ?? null),
          decisions.map((d) => d.shadow?.allow ?? null),
          decisions.map((d) => d.shadow?.reasonCode ?? null),
          options.region,
        ],
      );
    },
  });

  return {
    /**
     * Queues one decision. With `checkContracts`, throws if it breaks the
     * PolicyDecision contract or its input is not exactly a policy input (a
     * bug of the service deciding, never the caller's fault): token material,
     * or anything else a caller adds, must never reach the table.
     */
    record(decision: RecordedDecision): void {
      if (checkContracts) {
        const { clientId: _clientId, input, shadow: _shadow, ...contract } = decision;
        policyDecisionSchema.parse(contract);
        policyInputSchema.parse(input);
      }
      writer.record(decision);
    },
    /** Writes everything queued now; false if the database was unavailable. For tests and benchmarks. */
    flush: writer.flush,
    /** Stops the timer and writes everything still queued (one retry); what still fails is logged as lost. */
    close: writer.close,
  };
}

export type DecisionRecorder = ReturnType<typeof createDecisionRecorder>;
