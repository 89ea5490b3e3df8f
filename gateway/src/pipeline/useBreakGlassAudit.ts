import { recordSecurityEvent, type PgPool } from '@coherence/platform';
import type { SecurityMetrics } from '../createSecurityMetrics';
import { assertReached, type GatewayStep } from './GatewayStep';

/** The most of the query text kept in the audit row. */
const MAX_AUDITED_QUERY_LENGTH = 4_000;

/** Every request that runs query text (break glass on) is counted, logged and written as a BREAK_GLASS security event before the policy decides. */
export function useBreakGlassAudit(options: { pool: PgPool; metrics: SecurityMetrics }): GatewayStep {
  return {
    name: 'break-glass-audit',
    async onRequest(context) {
      if (!context.breakGlass) return undefined;
      assertReached(context, 'break-glass-audit', 'principal', 'operation', 'tenant');
      const { principal, operation } = context;
      options.metrics.breakGlassRequests.inc();
      context.log.warn({ break_glass: true, query: operation.body }, 'break glass: running query text');
      await recordSecurityEvent(options.pool, {
        kind: 'BREAK_GLASS',
        tenantId: context.tenant.tenantId,
        service: 'gateway',
        subject: principal.subject,
        clientId: principal.clientId,
        reason: 'query text run with break glass on',
        sourceIp: context.sourceIp,
        correlationId: context.correlationId,
        details: { operationId: operation.id, query: operation.body.slice(0, MAX_AUDITED_QUERY_LENGTH) },
      });
      return undefined;
    },
  };
}
