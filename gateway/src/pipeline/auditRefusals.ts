import type { SecurityEventWriter } from '@coherence/platform';
import type { GatewayStep } from './GatewayStep';

/**
 * The step, with each of its refusals queued as a REQUEST_REFUSED security
 * event (the error code as reason) on either transport: a refused persisted
 * id, invalid input or a kill switch leaves an audit trace as a 401 does.
 * The event is queued, never awaited, so a flood of refusals costs no
 * database write per request (issue 13, item 6). It is filed under the
 * token's tenant (verified by then); '-' when there is no principal yet.
 */
export function auditRefusals(step: GatewayStep, events: SecurityEventWriter): GatewayStep {
  const { onRequest } = step;
  if (!onRequest) return step;
  return {
    ...step,
    async onRequest(context) {
      const refused = await onRequest.call(step, context);
      if (refused) {
        events.record({
          kind: 'REQUEST_REFUSED',
          tenantId: context.principal?.tenantId ?? '-',
          service: 'gateway',
          subject: context.principal?.subject,
          clientId: context.principal?.clientId,
          reason: refused.code,
          sourceIp: context.sourceIp,
          correlationId: context.correlationId,
          details: {
            message: refused.message,
            step: step.name,
            operationId: context.operation?.id,
            userAgent: context.userAgent,
            clientRequestId: context.clientRequestId,
          },
        });
      }
      return refused;
    },
  };
}
