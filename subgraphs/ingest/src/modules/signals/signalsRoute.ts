import { createSignalBatchSchema, formatTraceparent, validate, type Provenance } from '@coherence/contracts';
import { httpErrorBody, type PgPool } from '@coherence/platform';
import type { FastifyInstance } from 'fastify';
import { ingestErrorCodes } from '../../errors';
import { storeSignals } from './storeSignals';

export interface SignalsRouteOptions {
  pool: PgPool;
  maxSignalsPerBatch: number;
  defaultProvenance: Provenance;
  now?: () => Date;
}

/**
 * `POST /v1/signals`: validates the whole batch first (all-or-nothing), then
 * stores it in one transaction and answers 202 only after the commit.
 */
export function registerSignalsRoute(app: FastifyInstance, options: SignalsRouteOptions): void {
  const batchSchema = createSignalBatchSchema({ now: options.now ?? (() => new Date()), maxSignals: options.maxSignalsPerBatch });
  app.post('/v1/signals', async (request, reply) => {
    const result = validate(batchSchema, request.body);
    if (!result.ok) {
      request.log.info({ issues: result.issues.length }, 'batch rejected');
      return reply
        .code(ingestErrorCodes.INVALID_SIGNAL)
        .send(
          httpErrorBody('INVALID_SIGNAL', `${result.issues.length} problem(s) in the batch; nothing was stored`, { issues: result.issues }),
        );
    }
    const stored = await storeSignals(options.pool, result.value.signals, {
      defaultProvenance: options.defaultProvenance,
      correlationId: request.trace.requestId,
      traceparent: formatTraceparent(request.trace.traceparent),
    });
    const tenantIds = [...new Set(result.value.signals.map((s) => s.tenantId))];
    request.log.info({ ...stored, ...(tenantIds.length === 1 ? { tenant_id: tenantIds[0] } : { tenant_ids: tenantIds }) }, 'batch stored');
    return reply.code(202).send(stored);
  });
}
