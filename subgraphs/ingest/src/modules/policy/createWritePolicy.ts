import type { Principal } from '@coherence/auth';
import type { Logger, PgPool } from '@coherence/platform';
import {
  buildPolicyInput,
  createClientDirectory,
  createDecisionRecorder,
  createPolicyEngine,
  createTenantDirectory,
  listenForTenantChanges,
  type ClientRefusal,
  type PolicyVerdict,
  type TenantRecord,
} from '@coherence/policy';
import { randomUUID } from 'node:crypto';
import type { IngestMetrics, Transport } from '../telemetry/createIngestMetrics';
import type { KeyObject } from 'node:crypto';

/** The Rego field every signal write is decided as (policy/src/authz.rego: a `write` field). */
const WRITE_FIELD = 'publishSignals';

/**
 * Kafka records carry no token: the consumer decides a record's write as this
 * service principal, acting for the record's tenant with the producer's own
 * scope (`coherence:write:self`) in this region only (ADR 0013). The policy
 * then grants no more than a producer token of that tenant, and what it
 * checks is the tenant's registration and residency.
 */
export const KAFKA_CONSUMER_SUBJECT = 'service:ingest-consumer';

/** Where a decision about a tenant that is not registered is filed: an id nobody registered must not open audit rows (ADR 0002). */
const UNREGISTERED_TENANT = '-';

export interface WritePolicyOptions {
  pool: PgPool;
  logger: Logger;
  metrics: IngestMetrics;
  /** The region this ingest stores data in. */
  region: string;
  /** The policy bundle folder; it must load and verify, or the process does not start. */
  bundleDir: string;
  /** The key the bundle must be signed with (INGEST_POLICY_PUBLIC_KEY). */
  publicKey: KeyObject;
  tenantCacheTtlMs: number;
  tenantNegativeCacheTtlMs: number;
  decisionFlushMs: number;
  decisionBatchSize: number;
  /** Check each decision against its contracts before queueing it (outside production; see createDecisionRecorder). */
  checkContracts: boolean;
  /** The producers' `client_id` check (HTTP only: Kafka records carry no token); absent on the consumer. */
  clients?: { acceptUnknown: boolean };
}

/** One write to decide: a principal writing signals of one tenant. */
export interface WriteRequest {
  transport: Transport;
  /** The producer's verified token over HTTP; the consumer acting for the record's tenant over Kafka. */
  principal: Pick<Principal, 'subject' | 'tenantId' | 'scopes' | 'residency'>;
  clientId: string | null;
  tenantId: string;
  /** What was written through: the route (`POST /v1/signals`) or the topic (`kafka:<topic>`). */
  operationId: string;
  correlationId: string;
}

/**
 * The write policy of both ingest paths: the same OPA bundle as the gateway,
 * asked about the field `publishSignals` for one tenant, with the tenant's
 * residency from `tenants` (cached like the gateway's) and this ingest's
 * region. Every decision, allowed or denied, is queued for
 * `policy_decisions`, under the tenant, or under `-` when it is not
 * registered. The bundle is read once, at start: a bundle that does not load
 * and verify stops the start, so ingest never runs without the policy
 * (a new bundle takes a restart).
 */
export async function createWritePolicy(options: WritePolicyOptions) {
  // Read once, at start: there is no active bundle to roll back from.
  const engine = createPolicyEngine({ logger: options.logger, publicKey: options.publicKey, allowRollback: false });
  const activated = await engine.activate(options.bundleDir);
  if (!activated.ok) throw new Error(`the write policy bundle in ${options.bundleDir} was refused: ${activated.error}`);
  const tenants = createTenantDirectory({
    pool: options.pool,
    ttlMs: options.tenantCacheTtlMs,
    negativeTtlMs: options.tenantNegativeCacheTtlMs,
  });
  const clients =
    options.clients &&
    createClientDirectory({ pool: options.pool, ttlMs: options.tenantCacheTtlMs, acceptUnknown: options.clients.acceptUnknown });
  // A suspended or changed tenant (or API client) is refused or served as changed at once, not after the TTL (a
  // Kafka record of a suspended tenant is dead-lettered with reason TENANT_SUSPENDED: startSignalConsumer).
  const tenantChanges = listenForTenantChanges({
    pool: options.pool,
    logger: options.logger,
    onChange: (tenantId) => {
      tenants.forget(tenantId);
      clients?.forgetTenant(tenantId);
    },
    onResync: () => {
      tenants.forgetAll();
      clients?.forgetAll();
    },
  });
  const decisions = createDecisionRecorder({
    pool: options.pool,
    logger: options.logger,
    region: options.region,
    flushMs: options.decisionFlushMs,
    batchSize: options.decisionBatchSize,
    checkContracts: options.checkContracts,
  });

  return {
    /** The region this ingest stores data in. */
    region: options.region,
    /**
     * Decides each write (their tenants' rows read together) and queues each
     * decision; rejects, deciding none, only when a row cannot be read (the
     * database is unavailable).
     */
    async decide(requests: readonly WriteRequest[]): Promise<PolicyVerdict[]> {
      const records = await tenants.recordsOf(requests.map((request) => request.tenantId));
      return requests.map((request) => decideOne(request, records.get(request.tenantId)));
    },
    /** Why the producer's token may not be used as the client it names (docs/adr/0031); undefined when it may, or without `clients`. */
    clientRefusalOf: async (principal: Pick<Principal, 'tenantId' | 'clientId' | 'scopes'>): Promise<ClientRefusal | undefined> =>
      clients?.refusalOf(principal),
    /** Writes what is still queued; call after the last write was decided. */
    async close(): Promise<void> {
      await tenantChanges.close();
      await decisions.close();
    },
  };

  function decideOne(request: WriteRequest, record: TenantRecord | undefined): PolicyVerdict {
    const input = buildPolicyInput({
      principal: request.principal,
      operation: { id: request.operationId, type: 'ingest', rootFields: [WRITE_FIELD] },
      tenantIds: [request.tenantId],
      tenantResidency: new Map(record ? [[request.tenantId, record.residency]] : []),
      region: options.region,
      pausedScopes: [],
      suspendedTenants: record?.suspended ? [request.tenantId] : [],
    });
    const verdict = engine.decide(input);
    options.metrics.writeDecisions.inc({ transport: request.transport, reason_code: verdict.reasonCode });
    decisions.record({
      decisionId: randomUUID(),
      tenantId: record ? request.tenantId : UNREGISTERED_TENANT,
      subject: request.principal.subject,
      clientId: request.clientId,
      operationId: request.operationId,
      operationType: 'ingest',
      allow: verdict.allow,
      reasonCode: verdict.reasonCode,
      explanation: verdict.explanation,
      bundleSha256: verdict.bundleSha256,
      correlationId: request.correlationId,
      decidedAt: new Date().toISOString(),
      input,
    });
    return verdict;
  }
}

export type WritePolicy = Awaited<ReturnType<typeof createWritePolicy>>;
