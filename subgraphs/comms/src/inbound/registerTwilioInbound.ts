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

export interface TwilioInboundOptions {
  pool: PgPool;
  /** Absent: every request is refused (nothing can be verified). */
  authToken: string | undefined;
  /**
   * The scheme and host Twilio calls (the signature covers the URL Twilio
   * used, not what a proxy forwards). Absent: taken from the request.
   */
  publicBaseUrl: string | undefined;
}

/**
 * `POST /v1/inbound/twilio/:tenantId` (on the inbound listener, never the
 * subgraph's): takes `application/x-www-form-urlencoded` only (else 415
 * `UNSUPPORTED_MEDIA_TYPE`); validates `X-Twilio-Signature`; on a
 * missing or wrong one answers 403 and records `AUTH_DENY`, storing nothing.
 * A valid message is kept raw as a `CommsEnvelope` (the tenant's timeline),
 * once per provider message id, with the request's correlation id; a signed
 * body that does not fit an envelope is 400 `INVALID_PAYLOAD`.
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
      const url = `${options.publicBaseUrl ?? `${request.protocol}://${request.host}`}${request.url}`;
      const signature = request.headers['x-twilio-signature'];
      const valid =
        options.authToken !== undefined &&
        isValidTwilioSignature(options.authToken, typeof signature === 'string' ? signature : undefined, url, params);
      if (!valid) {
        await recordSecurityEvent(options.pool, {
          kind: 'AUTH_DENY',
          tenantId,
          service: 'comms',
          reason: signature ? 'X-Twilio-Signature does not match' : 'X-Twilio-Signature is missing',
          sourceIp: request.ip,
          correlationId: request.trace.requestId,
          details: { route: TWILIO_INBOUND_ROUTE, provider: 'twilio' },
        });
        return reply
          .code(inboundErrorCodes.SIGNATURE_INVALID)
          .send(httpErrorBody('SIGNATURE_INVALID', 'the request signature is not valid'));
      }
      const sid = params['MessageSid'] ?? params['SmsSid'];
      const parsed = commsEnvelopeSchema.safeParse({
        envelopeId: randomUUID(),
        tenantId,
        channel: 'sms',
        direction: 'inbound',
        provider: 'twilio',
        ...(typeof sid === 'string' && sid !== '' ? { providerMessageId: sid } : {}),
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
      await inTransaction(options.pool, async (client) => {
        await setTenant(client, tenantId);
        await client.query(
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
      });
      request.log.info({ tenant_id: tenantId, provider_message_id: envelope.providerMessageId }, 'inbound sms stored');
      // Twilio expects TwiML; an empty response sends no reply SMS.
      return reply.type('text/xml').send('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
    });
  });
}
