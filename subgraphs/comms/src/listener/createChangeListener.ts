import {
  coherenceChangedMessageSchema,
  decodeCoherenceChangedMessage,
  type CoherenceChangedMessage,
  type CoherenceStatus,
} from '@coherence/contracts';
import { inTransaction, setTenant, type Logger, type PgPool } from '@coherence/platform';
import { contextOf, inSpan, SpanKind } from '@coherence/telemetry';
import { randomUUID } from 'node:crypto';
import { sendCommand } from '../bus/sendCommand';
import { NOTIFY_WEBHOOK, type WebhookPayload } from '../delivery/createWebhookHandler';

const ALERTING: readonly CoherenceStatus[] = ['WARN', 'CRITICAL'];

/** A status change contacts hear about: into WARN/CRITICAL (or between them), and back to HEALTHY from one of them. */
export function isNotifiable(message: CoherenceChangedMessage): boolean {
  const from = message.payload.previous?.status;
  const to = message.payload.current.status;
  if (from === to) return false;
  if (ALERTING.includes(to)) return true;
  return to === 'HEALTHY' && from !== undefined && ALERTING.includes(from);
}

export interface ChangeListenerOptions {
  pool: PgPool;
  logger: Logger;
  /** Attempts per notification before it goes to troubleshooting. */
  maxAttempts: number;
}

/**
 * Turns `CoherenceChanged` messages into one `notify.webhook` command per
 * contact of the tenant. The idempotency key is the message id plus the
 * contact, so a message delivered twice creates nothing the second time.
 * Returns how many commands were created.
 */
export function createChangeListener(options: ChangeListenerOptions) {
  /** Handles one message in a span continuing the relay's trace, which the message carries (docs/adr/0020-traces.md). */
  function handleMessage(message: CoherenceChangedMessage): Promise<number> {
    return inSpan(
      'comms handle CoherenceChanged',
      { kind: SpanKind.CONSUMER, parent: contextOf(message), attributes: { 'messaging.message.id': message.messageId } },
      () => notify(message),
    );
  }

  async function notify(message: CoherenceChangedMessage): Promise<number> {
    if (!isNotifiable(message)) return 0;
    const { tenantId, previous, current, changedAt } = message.payload;
    const contacts = await inTransaction(options.pool, async (client) => {
      await setTenant(client, tenantId);
      const { rows } = await client.query<{ contact_id: string; url: string }>(
        `SELECT contact_id, url FROM comms_contacts WHERE tenant_id = $1 AND channel = 'webhook' ORDER BY contact_id`,
        [tenantId],
      );
      return rows;
    });
    let created = 0;
    for (const contact of contacts) {
      const payload: WebhookPayload = {
        contactId: contact.contact_id,
        url: contact.url,
        body: {
          event: 'coherence.status_changed',
          tenantId,
          previousStatus: previous?.status ?? null,
          status: current.status,
          score: current.score,
          changedAt,
          messageId: message.messageId,
        },
      };
      const result = await sendCommand(options.pool, {
        commandId: randomUUID(),
        tenantId,
        type: NOTIFY_WEBHOOK,
        idempotencyKey: `coherence-changed:${message.messageId}:${contact.contact_id}`,
        correlationId: message.correlationId,
        payload,
        maxAttempts: options.maxAttempts,
      });
      if (result.created) created += 1;
    }
    options.logger.info(
      { tenant_id: tenantId, correlation_id: message.correlationId, status: current.status, created },
      'status change notified',
    );
    return created;
  }

  return {
    /** One pub/sub message's text; a malformed one is logged and skipped. */
    async handle(raw: string): Promise<number> {
      const message = decodeCoherenceChangedMessage(raw);
      if (!message) {
        options.logger.warn('ignored a malformed CoherenceChanged message');
        return 0;
      }
      return handleMessage(message);
    },
    /**
     * Replays the changes the relay recorded since `since` (its score
     * history), oldest first: what pub/sub did not deliver while this worker
     * was away. Already handled changes create nothing. Returns the changes
     * read and the commands created.
     */
    async catchUp(since: Date, maxChanges = 10_000): Promise<{ changes: number; created: number }> {
      const { rows } = await options.pool.query<{ message: unknown }>('SELECT comms_changes_since($1, $2) AS message', [
        since.toISOString(),
        maxChanges,
      ]);
      let created = 0;
      for (const row of rows) {
        const message = coherenceChangedMessageSchema.safeParse(row.message);
        if (message.success) created += await handleMessage(message.data);
        else options.logger.warn('skipped a recorded change that is not a CoherenceChanged message');
      }
      return { changes: rows.length, created };
    },
  };
}
