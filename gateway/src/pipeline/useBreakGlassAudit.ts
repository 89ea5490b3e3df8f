import { recordSecurityEvent, type PgPool } from '@coherence/platform';
import { sha256Hex } from '@coherence/persisted-queries';
import type { SecurityMetrics } from '../createSecurityMetrics';
import { assertReached, type GatewayStep } from './GatewayStep';

/** The most of the query text kept in the audit row. */
const MAX_AUDITED_QUERY_LENGTH = 4_000;

/**
 * Every request that runs query text (admitted by break glass) is counted,
 * logged and written as a BREAK_GLASS security event before the policy
 * decides. The row carries the sha256 of the whole text (`querySha256`):
 * the text itself is cut at 4,000 characters, and the log line carries only
 * the hash, so the text stays in the audit table.
 */
export function useBreakGlassAudit(options: { pool: PgPool; metrics: SecurityMetrics }): GatewayStep {
  return {
    name: 'break-glass-audit',
    // Nothing to time unless break glass is on, and then its one write is a `pg` span of the request's.
    span: false,
    async onRequest(context) {
      if (!context.breakGlass) return undefined;
      assertReached(context, 'break-glass-audit', 'principal', 'operation', 'tenant');
      const { principal, operation } = context;
      const querySha256 = sha256Hex(operation.body);
      options.metrics.breakGlassRequests.inc();
      context.log.warn({ break_glass: true, query_sha256: querySha256 }, 'break glass: running query text');
      await recordSecurityEvent(options.pool, {
        kind: 'BREAK_GLASS',
        tenantId: context.tenant.tenantId,
        service: 'gateway',
        subject: principal.subject,
        clientId: principal.clientId,
        reason: 'query text run with break glass on',
        sourceIp: context.sourceIp,
        correlationId: context.correlationId,
        details: {
          operationId: operation.id,
          operationName: operation.name,
          querySha256,
          query: operation.body.slice(0, MAX_AUDITED_QUERY_LENGTH),
          tokenIssuedAt: principal.issuedAt?.toISOString() ?? null,
        },
      });
      return undefined;
    },
  };
}
