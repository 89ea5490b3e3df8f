import type { TokenVerifier } from '@coherence/auth';
import {
  createSignalBatchSchema,
  IDEMPOTENCY_KEY_HEADER,
  idempotencyKeySchema,
  POLICY_REASON_CODES,
  RETRY_AFTER_HEADER,
  validate,
  type Provenance,
} from '@coherence/contracts';
import { httpErrorBody, inTransaction, setTenant, type PgPool, type SecurityEventWriter } from '@coherence/platform';
import type { RefusalThrottle, TenantRateLimiter } from '@coherence/ratelimit';
import { setSpanTenant } from '@coherence/telemetry';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ingestErrorCodes } from '../../errors';
import { createAuthenticateHook, refuseForeignTenants } from '../auth/authenticateProducer';
import { lockIdempotencyKey, saveIdempotentResponse, type StoredResponse } from '../idempotency/idempotencyStore';
import { differingFields, requestSha256 } from '../idempotency/requestFingerprint';
import type { WritePolicy } from '../policy/createWritePolicy';
import type { IngestMetrics } from '../telemetry/createIngestMetrics';
import type { StorePush } from './groupCommit';
import { writeSignals, type StoreResult } from './storeSignals';

export interface SignalsRouteOptions {
  pool: PgPool;
  /** Stores a push without an Idempotency-Key, possibly in one transaction with others (group commit). */
  storePush: StorePush;
  /** Refusals (AUTH_DENY, TENANT_MISMATCH) are queued here. */
  securityEvents: SecurityEventWriter;
  maxSignalsPerBatch: number;
  defaultProvenance: Provenance;
  verify: TokenVerifier;
  /** Charged one unit per signal of the batch, on the token's tenant. */
  limiter: TenantRateLimiter;
  /** Charged for every refused token (401, 403) of an address; while that address's bucket is empty its pushes are 429 before anything else. */
  refusalThrottle: RefusalThrottle;
  requiredScope: string;
  /** Decides the token's tenant's write (registered, resident in this region); `off` only in the ingest benchmark. */
  writePolicy: WritePolicy | 'off';
  /** How long an Idempotency-Key's first response is replayed. */
  idempotencyTtlHours: number;
  metrics: IngestMetrics;
  now?: () => Date;
}

/** Header set on a response that is the stored answer to an earlier request with the same Idempotency-Key. */
export const IDEMPOTENT_REPLAY_HEADER = 'idempotent-replayed';

/** The operation id of HTTP writes in `policy_decisions`. */
const SIGNALS_ROUTE = 'POST /v1/signals';

/**
 * `POST /v1/signals`, in this order: bearer token (before the body is even
 * read), whole-batch validation (all-or-nothing), the token's tenant owns
 * every signal, the write policy (the tenant is registered and resides in
 * this region), the tenant's rate share, then one transaction holding the
 * ledger rows, the outbox event and the idempotency record. A push without an
 * Idempotency-Key may share its transaction with concurrent pushes (group
 * commit). 202 is sent only after that transaction committed.
 */
export function registerSignalsRoute(app: FastifyInstance, options: SignalsRouteOptions): void {
  const batchSchema = createSignalBatchSchema({ now: options.now ?? (() => new Date()), maxSignals: options.maxSignalsPerBatch });
  app.decorateRequest('principal', null);
  const authenticate = createAuthenticateHook({
    verify: options.verify,
    securityEvents: options.securityEvents,
    requiredScope: options.requiredScope,
  });

  const { refusalThrottle } = options;
  // Before the token is verified: an address that keeps sending refused tokens costs no verification and no audit row.
  const throttleRefusedAddresses = async (request: FastifyRequest, reply: FastifyReply) => {
    const retryAfterSeconds = refusalThrottle.retryAfterSeconds(request.ip);
    if (retryAfterSeconds === 0) return undefined;
    options.metrics.refusalThrottled.inc();
    return reply
      .code(ingestErrorCodes.RATE_LIMITED)
      .header(RETRY_AFTER_HEADER, String(retryAfterSeconds))
      .send(httpErrorBody('RATE_LIMITED', `too many refused requests from this address; retry in ${retryAfterSeconds} s`));
  };
  const chargeRefusals = async (request: FastifyRequest, reply: FastifyReply) => {
    if (reply.statusCode === ingestErrorCodes.UNAUTHENTICATED || reply.statusCode === ingestErrorCodes.FORBIDDEN) {
      refusalThrottle.charge(request.ip);
    }
  };

  app.post('/v1/signals', { onRequest: [throttleRefusedAddresses, authenticate], onResponse: chargeRefusals }, async (request, reply) => {
    const principal = request.principal!;
    setSpanTenant(principal.tenantId);
    const idempotencyKey = readIdempotencyKey(request);
    if (idempotencyKey === null) {
      return reply
        .code(ingestErrorCodes.INVALID_IDEMPOTENCY_KEY)
        .send(httpErrorBody('INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1..256 visible ASCII characters'));
    }
    const result = validate(batchSchema, request.body);
    if (!result.ok) {
      request.log.info({ issues: result.issues.length }, 'batch rejected');
      return reply
        .code(ingestErrorCodes.INVALID_SIGNAL)
        .send(
          httpErrorBody('INVALID_SIGNAL', `${result.issues.length} problem(s) in the batch; nothing was stored`, { issues: result.issues }),
        );
    }
    const signals = result.value.signals;
    const tenantIds = signals.map((s) => s.tenantId);
    if (await refuseForeignTenants(request, reply, options.securityEvents, tenantIds)) return reply;
    if (await refuseByWritePolicy(request, reply, options.writePolicy)) return reply;
    if (await refuseOverLimit(reply, options.limiter, principal.tenantId, signals.length)) return reply;

    const requestHash = idempotencyKey === undefined ? '' : requestSha256(request.body);
    const context = {
      defaultProvenance: options.defaultProvenance,
      correlationId: request.trace.requestId,
    };
    const endTimer = options.metrics.storeDuration.startTimer({ transport: 'http' });
    const outcome: StoredResponse & { replay: boolean; deduped?: number } =
      idempotencyKey === undefined
        ? // The hot path: nothing else to commit with the signals, so it may share a transaction with other pushes.
          storedResponse(request.body, '', await options.storePush({ signals, context }))
        : await inTransaction(options.pool, async (client) => {
            await setTenant(client, principal.tenantId);
            const previous = await lockIdempotencyKey(client, principal.tenantId, idempotencyKey, options.idempotencyTtlHours);
            if (previous) return { ...previous, replay: true };
            const response = storedResponse(request.body, requestHash, await writeSignals(client, signals, context));
            await saveIdempotentResponse(client, principal.tenantId, idempotencyKey, response);
            return response;
          });
    endTimer();

    if (outcome.replay) {
      if (outcome.requestSha256 !== requestHash) {
        const fields = differingFields(outcome.requestBody, request.body);
        request.log.info({ tenant_id: principal.tenantId, fields: fields.length }, 'idempotency key reused with another body');
        return reply
          .code(ingestErrorCodes.IDEMPOTENCY_MISMATCH)
          .send(httpErrorBody('IDEMPOTENCY_MISMATCH', 'this Idempotency-Key was first used with another body', { fields }));
      }
      request.log.info({ tenant_id: principal.tenantId }, 'idempotent replay');
      return reply.code(outcome.status).header(IDEMPOTENT_REPLAY_HEADER, 'true').type('application/json').send(outcome.body);
    }
    // Counted only now that the transaction has committed.
    options.metrics.processed.inc({ transport: 'http' }, signals.length);
    options.metrics.tenantSignals.inc({ tenant: principal.tenantId }, signals.length);
    options.metrics.deduped.inc({ transport: 'http' }, outcome.deduped ?? 0);
    request.log.info({ tenant_id: principal.tenantId, body: outcome.body }, 'batch stored');
    return reply.code(202).type('application/json').send(outcome.body);
  });
}

/** The 202 for a stored batch, in the shape an idempotency record keeps. */
function storedResponse(requestBody: unknown, requestHash: string, stored: StoreResult) {
  return { requestSha256: requestHash, requestBody, status: 202, body: JSON.stringify(stored), replay: false, deduped: stored.deduped };
}

/** The key, `undefined` when none was sent, `null` when one was sent but is unusable. */
function readIdempotencyKey(request: FastifyRequest): string | undefined | null {
  const header = request.headers[IDEMPOTENCY_KEY_HEADER];
  if (header === undefined) return undefined;
  const parsed = validate(idempotencyKeySchema, Array.isArray(header) ? header[0] : header);
  return parsed.ok ? parsed.value : null;
}

/**
 * 403 FORBIDDEN with reason CLIENT_UNKNOWN, CLIENT_DISABLED or
 * CLIENT_SCOPE_NOT_ALLOWED when the token may not act as the client it names
 * (docs/adr/0031-tenant-administration.md); then
 * 403 when the write policy denies the token's tenant (every signal is of it
 * by now): TENANT_UNKNOWN when it is not registered, TENANT_SUSPENDED when it is suspended, otherwise FORBIDDEN with
 * the policy's reason (RESIDENCY_VIOLATION: the tenant resides in another
 * region, or the token may not act in this one). The decision is queued for
 * `policy_decisions` either way; the explanation stays there.
 */
async function refuseByWritePolicy(request: FastifyRequest, reply: FastifyReply, writePolicy: WritePolicy | 'off'): Promise<boolean> {
  if (writePolicy === 'off') return false;
  const principal = request.principal!;
  const clientRefusal = await writePolicy.clientRefusalOf(principal);
  if (clientRefusal) {
    request.log.info({ tenant_id: principal.tenantId, client_id: principal.clientId, reason: clientRefusal }, 'batch denied: client');
    await reply
      .code(ingestErrorCodes.FORBIDDEN)
      .send(
        httpErrorBody('FORBIDDEN', `the token's client_id may not write: ${clientRefusal}; nothing was stored`, { reason: clientRefusal }),
      );
    return true;
  }
  const decided = await writePolicy.decide([
    {
      transport: 'http',
      principal,
      clientId: principal.clientId,
      tenantId: principal.tenantId,
      operationId: SIGNALS_ROUTE,
      correlationId: request.trace.requestId,
    },
  ]);
  const verdict = decided[0]!;
  if (verdict.allow) return false;
  request.log.info({ tenant_id: principal.tenantId, reason: verdict.reasonCode }, 'batch denied by the write policy');
  if (verdict.reasonCode === POLICY_REASON_CODES.TENANT_UNKNOWN) {
    await reply
      .code(ingestErrorCodes.TENANT_UNKNOWN)
      .send(httpErrorBody('TENANT_UNKNOWN', "the token's tenant is not registered; nothing was stored"));
  } else if (verdict.reasonCode === POLICY_REASON_CODES.TENANT_SUSPENDED) {
    await reply
      .code(ingestErrorCodes.TENANT_SUSPENDED)
      .send(httpErrorBody('TENANT_SUSPENDED', "the token's tenant is suspended; nothing was stored"));
  } else {
    await reply
      .code(ingestErrorCodes.FORBIDDEN)
      .send(httpErrorBody('FORBIDDEN', `denied by policy: ${verdict.reasonCode}; nothing was stored`, { reason: verdict.reasonCode }));
  }
  return true;
}

/**
 * 429 with Retry-After when the tenant is over its share. The limiter never
 * rejects (without Redis it decides in process), so its store's outage is
 * neither a 5xx nor a lifted limit.
 */
async function refuseOverLimit(reply: FastifyReply, limiter: TenantRateLimiter, tenantId: string, cost: number): Promise<boolean> {
  const decision = await limiter.consume(tenantId, cost);
  if (decision.allowed) return false;
  await reply
    .code(ingestErrorCodes.RATE_LIMITED)
    .header(RETRY_AFTER_HEADER, String(decision.retryAfterSeconds))
    .send(httpErrorBody('RATE_LIMITED', `over this tenant's share; retry in ${decision.retryAfterSeconds} s`));
  return true;
}
