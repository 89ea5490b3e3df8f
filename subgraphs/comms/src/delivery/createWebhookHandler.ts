import { IDEMPOTENCY_KEY_HEADER, REQUEST_ID_HEADER } from '@coherence/contracts';
import { inTransaction, recordSecurityEvent, setTenant, type PgPool } from '@coherence/platform';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import type { ClaimedCommand, CommandHandler } from '../bus/createBusWorker';
import { CommandFailure, type CommandFailureCode } from '../errors';
import type { QuietHoursGate } from '../quietHours/createQuietHoursGate';
import { UrlBlockedError, type GuardedResponse, type SsrfGuard } from './createSsrfGuard';
import { toResponseSnippet, type ResponseSnippet } from './responseSnippet';

/** Command type of a webhook notification. */
export const NOTIFY_WEBHOOK = 'notify.webhook';

/** What a `notify.webhook` command carries: where to, and the JSON body to send. */
export const webhookPayloadSchema = z.object({
  contactId: z.string().min(1),
  url: z.url(),
  body: z.record(z.string(), z.json()),
});
export type WebhookPayload = z.output<typeof webhookPayloadSchema>;

export interface WebhookHandlerOptions {
  pool: PgPool;
  guard: SsrfGuard;
  /** Per delivery, redirects included. */
  timeoutMs: number;
  /** The worker's lease; renewed right before the POST (config keeps it ≥ timeoutMs + LEASE_MARGIN_MS). */
  leaseMs: number;
  /** Absent: no quiet hours apply. */
  quietHours?: QuietHoursGate;
  /** The worker's registry: `comms_webhook_deliveries_total` and `comms_notifications_delivered_total` go there. */
  metrics: Registry;
}

type Outcome = 'delivered' | 'transient' | 'permanent' | 'blocked';

/** 2xx delivered; 429 and 5xx transient; other 4xx (and anything else) permanent. */
export function classifyStatus(status: number): { outcome: Outcome; code?: CommandFailureCode } {
  if (status >= 200 && status < 300) return { outcome: 'delivered' };
  if (status === 429) return { outcome: 'transient', code: 'WEBHOOK_RATE_LIMITED' };
  if (status >= 500) return { outcome: 'transient', code: 'WEBHOOK_UNAVAILABLE' };
  if (status >= 400) return { outcome: 'permanent', code: 'WEBHOOK_REJECTED' };
  // 1xx/3xx left over (a redirect chain too long, or without Location): the receiver is misconfigured, retry later.
  return { outcome: 'transient', code: 'WEBHOOK_UNAVAILABLE' };
}

/**
 * Delivers `notify.webhook` commands: quiet hours first (a deferral is not an
 * attempt), then the lease renewed (or the handler stops: taken over), then one POST through the SSRF guard with a timeout. Every
 * attempt is stored in `comms_deliveries` with its latency and a bounded,
 * redacted response snippet; a refused URL is also a `URL_BLOCKED` security
 * event. The command's idempotency key goes out as `Idempotency-Key` so a
 * receiver can drop the duplicate a crash-and-retry may cause.
 */
export function createWebhookHandler(options: WebhookHandlerOptions): CommandHandler {
  const deliveries = new Counter({
    name: 'comms_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered, transient, permanent, or blocked (the SSRF guard refused the address).',
    labelNames: ['outcome'] as const,
    registers: [options.metrics],
  });
  // Per tenant for the cost model (docs/slo.md); commands exist only for registered tenants, so the label is bounded.
  const notifications = new Counter({
    name: 'comms_notifications_delivered_total',
    help: 'Notifications a receiver accepted (2xx), by tenant.',
    labelNames: ['tenant'] as const,
    registers: [options.metrics],
  });
  /** Extends the lease if this worker still holds it (fenced by the lease token). */
  async function renewLease(command: ClaimedCommand): Promise<boolean> {
    const { rowCount } = await inTransaction(options.pool, async (client) => {
      await setTenant(client, command.tenantId);
      return client.query(
        `UPDATE dispatch_commands SET lease_expires_at = now() + $3 * interval '1 millisecond'
          WHERE command_id = $1 AND lease_token = $2 AND state = 'running'`,
        [command.commandId, command.leaseToken, options.leaseMs],
      );
    });
    return rowCount === 1;
  }

  async function record(
    command: ClaimedCommand,
    url: string,
    result: { outcome: Outcome; status?: number; latencyMs: number; response?: ResponseSnippet; error?: string },
  ) {
    deliveries.inc({ outcome: result.outcome });
    if (result.outcome === 'delivered') notifications.inc({ tenant: command.tenantId });
    await inTransaction(options.pool, async (client) => {
      await setTenant(client, command.tenantId);
      await client.query(
        `INSERT INTO comms_deliveries (command_id, tenant_id, attempt, url, outcome, status, latency_ms, response, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          command.commandId,
          command.tenantId,
          command.attempts,
          url,
          result.outcome,
          result.status ?? null,
          result.latencyMs,
          result.response ? JSON.stringify(result.response) : null,
          result.error ?? null,
        ],
      );
    });
  }

  return async ({ command, signal, logger }) => {
    const parsed = webhookPayloadSchema.safeParse(command.payload);
    if (!parsed.success) throw new CommandFailure('INVALID_PAYLOAD', z.prettifyError(parsed.error));
    const { url, body } = parsed.data;

    const quiet = await options.quietHours?.(command);
    if (quiet && !quiet.allowed) return { outcome: 'deferred', until: quiet.until, reason: quiet.reason };

    // Quiet hours and a pool wait ran under the claim's lease, which may be
    // short of what is left; renew it now, so the POST and the bookkeeping
    // after it fit in the lease. No row: another worker took the command over
    // and will deliver it; sending too would deliver twice.
    if (!(await renewLease(command))) throw new Error('lease lost before delivery; another worker owns the command');

    const startedAt = performance.now();
    const elapsed = () => Math.round(performance.now() - startedAt);
    const timeout = AbortSignal.timeout(options.timeoutMs);
    let response: GuardedResponse;
    try {
      response = await options.guard.send(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [IDEMPOTENCY_KEY_HEADER]: command.idempotencyKey,
          [REQUEST_ID_HEADER]: command.correlationId,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, timeout]),
      });
    } catch (error) {
      if (error instanceof UrlBlockedError) {
        await record(command, url, { outcome: 'blocked', latencyMs: elapsed(), error: error.message });
        await recordSecurityEvent(options.pool, {
          kind: 'URL_BLOCKED',
          tenantId: command.tenantId,
          service: 'comms',
          reason: error.message,
          correlationId: command.correlationId,
          details: { commandId: command.commandId, url: error.url, address: error.address, range: error.range },
        });
        throw new CommandFailure('URL_BLOCKED', error.message);
      }
      if (signal.aborted) throw error; // the worker is stopping: it releases the command
      const message = error instanceof Error ? error.message : String(error);
      const timedOut = timeout.aborted;
      await record(command, url, {
        outcome: 'transient',
        latencyMs: elapsed(),
        error: timedOut ? `no answer within ${options.timeoutMs} ms` : message,
      });
      throw new CommandFailure(
        timedOut ? 'WEBHOOK_TIMEOUT' : 'WEBHOOK_NETWORK',
        timedOut ? `no answer within ${options.timeoutMs} ms` : message,
      );
    }
    // The receiver answered: from here on nothing may turn into a retry of a
    // delivered call. A failed bookkeeping write is logged, not retried.
    const { outcome, code } = classifyStatus(response.status);
    await record(command, url, {
      outcome,
      status: response.status,
      latencyMs: elapsed(),
      response: toResponseSnippet(response.headers, response.body),
    }).catch((err: unknown) =>
      logger.error(
        { err, command_id: command.commandId, tenant_id: command.tenantId, status: response.status },
        'recording a delivery failed; the delivery row is missing (the command still completes)',
      ),
    );
    if (code) throw new CommandFailure(code, `${url} answered ${response.status}`);
    return { outcome: 'done' };
  };
}
