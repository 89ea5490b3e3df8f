import { commsEnvelopeSchema, tenantIdSchema, type CommsEnvelope, type ProviderPayload } from '@coherence/contracts';
import { httpErrorBody, httpErrorCodes, inTransaction, recordSecurityEvent, setTenant, type PgPool } from '@coherence/platform';
import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { parse as parseForm } from 'node:querystring';
import { inboundErrorCodes } from '../errors';
import { isValidTwilioSignature } from './twilioSignature';

/** Where Twilio posts inbound SMS for a tenant. */
export const TWILIO_INBOUND_ROUTE = '/v1/inbound/twilio/:tenantId';

const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded';

/**
 * How long after a message was first received the same MessageSid is taken
 * as Twilio's own retry (answered as before, stored once); later it is a
 * replay and refused. Twilio retries within seconds (a failed connection,
 * its 15 s timeout).
 */
export const TWILIO_REPLAY_WINDOW_MS = 5 * 60_000;

export interface TwilioInboundOptions {
  pool: PgPool;
  /** Absent: every request is refused (nothing can be verified). */
  authToken: string | undefined;
  /**
   * The scheme and host Twilio calls (the signature covers the URL Twilio
   * used, not what a proxy forwards). Absent: every request is refused; the
   * URL is never rebuilt from the request's Host, which the sender chooses.
   */
  publicBaseUrl: string | undefined;
}

/**
 * `POST /v1/inbound/twilio/:tenantId` (on the inbound listener, never the
 * subgraph's): takes `application/x-www-form-urlencoded` only (else 415
 * `UNSUPPORTED_MEDIA_TYPE`); validates `X-Twilio-Signature`; on a
 * missing or wrong one answers 403 and records `AUTH_DENY`, storing nothing.
 * A valid message is kept raw as a `CommsEnvelope` (the tenant's timeline),
 * once per MessageSid, with the request's correlation id; the same MessageSid
 * again within {@link TWILIO_REPLAY_WINDOW_MS} is answered as the first time
 * (Twilio's retry), later it is 403 `REPLAYED` and an `AUTH_DENY` (the
 * envelope keeps the MessageSid as long as retention keeps it, at least a
 * day). A signed body without a MessageSid, or one that does not fit an
 * envelope, is 400 `INVALID_PAYLOAD`.
 */
export async function registerTwilioInbound(app: FastifyInstance, options: TwilioInboundOptions): Promise<void> {
  await app.register(async (scope) => {
    // Twilio posts forms only. Any other body (JSON could carry non-string
    // values) is refused before parsing, with a message that says what is taken.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(FORM_MEDIA_TYPE, { parseAs: 'string' }, (_request, body, done) => {
      done(null, parseForm(body as string));
    });
    scope.addHook('onRequest', async (request, reply) => {
      const mediaType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (mediaType !== FORM_MEDIA_TYPE) {
        return reply
          .code(httpErrorCodes.UNSUPPORTED_MEDIA_TYPE)
          .send(httpErrorBody('UNSUPPORTED_MEDIA_TYPE', `the body must be ${FORM_MEDIA_TYPE}`));
      }
    });
    scope.post<{ Params: { tenantId: string }; Body: ProviderPayload | undefined }>(TWILIO_INBOUND_ROUTE, async (request, reply) => {
      const tenant = tenantIdSchema.safeParse(request.params.tenantId);
      if (!tenant.success) return reply.code(inboundErrorCodes.UNKNOWN_TENANT).send(httpErrorBody('UNKNOWN_TENANT', 'not a tenant id'));
      const tenantId = tenant.data;
      const params: ProviderPayload = { ...(request.body ?? {}) };
      const signature = request.headers['x-twilio-signature'];
      const valid =
        options.authToken !== undefined &&
        options.publicBaseUrl !== undefined &&
        isValidTwilioSignature(
          options.authToken,
          typeof signature === 'string' ? signature : undefined,
          `${options.publicBaseUrl}${request.url}`,
          params,
        );
      const deny = (reason: string, details: Record<string, unknown> = {}) =>
        recordSecurityEvent(options.pool, {
          kind: 'AUTH_DENY',
          tenantId,
          service: 'comms',
          reason,
          sourceIp: request.ip,
          correlationId: request.trace.requestId,
          details: { route: TWILIO_INBOUND_ROUTE, provider: 'twilio', ...details },
        });
      if (!valid) {
        await deny(signature ? 'X-Twilio-Signature does not match' : 'X-Twilio-Signature is missing');
        return reply
          .code(inboundErrorCodes.SIGNATURE_INVALID)
          .send(httpErrorBody('SIGNATURE_INVALID', 'the request signature is not valid'));
      }
      const sid = params['MessageSid'] ?? params['SmsSid'];
      // Without it a replay could not be told from a new message.
      if (typeof sid !== 'string' || sid === '') {
        return reply.code(inboundErrorCodes.INVALID_PAYLOAD).send(httpErrorBody('INVALID_PAYLOAD', 'MessageSid is required'));
      }
      const parsed = commsEnvelopeSchema.safeParse({
        envelopeId: randomUUID(),
        tenantId,
        channel: 'sms',
        direction: 'inbound',
        provider: 'twilio',
        providerMessageId: sid,
        correlationId: request.trace.requestId,
        receivedAt: new Date().toISOString(),
        payload: params,
      });
      if (!parsed.success) {
        // Signed, so it comes from Twilio, but not a message we can keep (e.g. an over-long MessageSid).
        request.log.warn({ tenant_id: tenantId, issues: parsed.error.issues.map((i) => i.path.join('.')) }, 'inbound payload refused');
        return reply
          .code(inboundErrorCodes.INVALID_PAYLOAD)
          .send(httpErrorBody('INVALID_PAYLOAD', 'the message does not fit a comms envelope'));
      }
      const envelope: CommsEnvelope = parsed.data;
      const firstReceivedAt = await inTransaction(options.pool, async (client) => {
        await setTenant(client, tenantId);
        const stored = await client.query(
          `INSERT INTO comms_envelopes (envelope_id, tenant_id, channel, direction, provider, provider_message_id, correlation_id, received_at, payload)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (tenant_id, provider, provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING`,
          [
            envelope.envelopeId,
            envelope.tenantId,
            envelope.channel,
            envelope.direction,
            envelope.provider,
            envelope.providerMessageId ?? null,
            envelope.correlationId,
            envelope.receivedAt,
            JSON.stringify(envelope.payload),
          ],
        );
        if (stored.rowCount === 1) return undefined;
        const earlier = await client.query<{ received_at: Date }>(
          `SELECT received_at FROM comms_envelopes WHERE tenant_id = $1 AND provider = 'twilio' AND provider_message_id = $2`,
          [tenantId, sid],
        );
        return earlier.rows[0]!.received_at;
      });
      if (firstReceivedAt !== undefined && Date.now() - firstReceivedAt.getTime() > TWILIO_REPLAY_WINDOW_MS) {
        await deny(`MessageSid was first received more than ${TWILIO_REPLAY_WINDOW_MS / 60_000} minutes ago (a replay)`, {
          providerMessageId: sid,
          firstReceivedAt: firstReceivedAt.toISOString(),
        });
        return reply
          .code(inboundErrorCodes.REPLAYED)
          .send(httpErrorBody('REPLAYED', 'this message was received before; a replay is refused'));
      }
      request.log.info(
        { tenant_id: tenantId, provider_message_id: sid, retry: firstReceivedAt !== undefined },
        firstReceivedAt === undefined ? 'inbound sms stored' : 'inbound sms retried, kept once',
      );
      // Twilio expects TwiML; an empty response sends no reply SMS.
      return reply.type('text/xml').send('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
    });
  });
}
