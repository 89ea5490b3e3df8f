import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createGatewayCalls, type GatewayCalls } from '@coherence/testkit';
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { readCommsConfig } from '../config';
import { createCommsService } from '../createCommsService';
import { computeTwilioSignature } from './twilioSignature';

/**
 * The inbound Twilio webhook on the real comms service and Postgres, on its
 * own listener (the subgraph's port does not serve it): a valid
 * signature stores the raw message once, linked to the tenant and the
 * request's correlation id; a missing or wrong one is a 403 and an AUTH_DENY
 * security event, and nothing is stored; so is one signed for the Host the
 * sender chose, and the same message sent again after 5 minutes (a replay).
 */
const AUTH_TOKEN = 'test-auth-token';
let database: TestDatabase;
let admin: PgPool;
let comms: Awaited<ReturnType<typeof createCommsService>>;
/** The inbound webhooks' own listener. */
let baseUrl: string;
/** The subgraph's listener (gateway only). */
let subgraphUrl: string;
/** The admin listener: /healthz, /readyz, /metrics. */
let adminUrl: string;
const keyDir = mkdtempSync(join(tmpdir(), 'comms-internal-keys-'));
let gatewayCalls: GatewayCalls;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  admin = createPgPool(database.adminUrl);
  gatewayCalls = await createGatewayCalls(keyDir);
  const inboundPort = await freePort();
  baseUrl = `http://127.0.0.1:${inboundPort}`;
  comms = await createCommsService(
    readCommsConfig({
      COMMS_DATABASE_URL: database.urls.comms,
      COMMS_TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      SUBGRAPH_INTERNAL_JWKS: gatewayCalls.jwksPath,
      COMMS_PUBLIC_URL: baseUrl,
      LOG_LEVEL: 'silent',
    }),
    createLogger('comms-test', 'silent'),
  );
  await comms.app.listen({ port: 0, host: '127.0.0.1' });
  await comms.inbound.listen({ port: inboundPort, host: '127.0.0.1' });
  await comms.admin.listen({ port: 0, host: '127.0.0.1' });
  subgraphUrl = `http://127.0.0.1:${(comms.app.server.address() as AddressInfo).port}`;
  adminUrl = `http://127.0.0.1:${(comms.admin.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await comms?.close();
  await admin?.end();
  await database?.drop();
  rmSync(keyDir, { recursive: true, force: true });
});

const sms = (sid: string) => ({
  MessageSid: sid,
  AccountSid: 'AC123',
  From: '+14158675309',
  To: '+18005551212',
  Body: 'STOP alerts please',
});

function post(
  path: string,
  params: Record<string, string | string[]>,
  signature: string | undefined,
  requestId = 'inbound-req-1',
  origin = baseUrl,
) {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) for (const v of [value].flat()) form.append(key, v);
  return fetch(`${origin}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-request-id': requestId,
      ...(signature === undefined ? {} : { 'x-twilio-signature': signature }),
    },
    body: form.toString(),
  });
}

it('stores a validly signed SMS once, raw, with the correlation id, on the tenant timeline', async () => {
  const tenantId = `${database.namespace}-inbound`;
  const path = `/v1/inbound/twilio/${tenantId}?src=twilio`;
  const params = { ...sms('SM0001'), MediaUrl0: ['https://media.example/a', 'https://media.example/b'] };
  const signature = computeTwilioSignature(AUTH_TOKEN, `${baseUrl}${path}`, params);

  const response = await post(path, params, signature);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/xml');
  expect(await response.text()).toContain('<Response></Response>');
  // Twilio retries a delivery it thinks failed: the same message is kept once.
  expect((await post(path, params, signature, 'inbound-req-2')).status).toBe(200);

  const { rows } = await admin.query(
    'SELECT tenant_id, channel, direction, provider, provider_message_id, correlation_id, payload FROM comms_envelopes WHERE tenant_id = $1',
    [tenantId],
  );
  expect(rows).toEqual([
    {
      tenant_id: tenantId,
      channel: 'sms',
      direction: 'inbound',
      provider: 'twilio',
      provider_message_id: 'SM0001',
      correlation_id: 'inbound-req-1',
      payload: params,
    },
  ]);

  // Operators read the timeline through the subgraph's `messages`, from the gateway of the tenant's region.
  await admin.query(`INSERT INTO tenants (tenant_id, residency) VALUES ($1, 'us')`, [tenantId]);
  const timeline = await fetch(`${subgraphUrl}/graphql`, {
    method: 'POST',
    headers: gatewayCalls.headers('comms', { scopes: ['comms:operate'], tenantIds: [tenantId] }),
    body: JSON.stringify({
      query: 'query Timeline($tenantId: ID!) { messages(tenantId: $tenantId) { provider providerMessageId correlationId payloadJson } }',
      variables: { tenantId },
    }),
  });
  const { data } = (await timeline.json()) as {
    data: { messages: { provider: string; providerMessageId: string; correlationId: string; payloadJson: string }[] };
  };
  expect(data.messages).toHaveLength(1);
  expect(data.messages[0]).toMatchObject({ provider: 'twilio', providerMessageId: 'SM0001', correlationId: 'inbound-req-1' });
  expect(JSON.parse(data.messages[0]!.payloadJson)).toEqual(params);
});

it('refuses a wrong or missing signature with 403 and AUTH_DENY, storing nothing', async () => {
  const tenantId = `${database.namespace}-forged`;
  const path = `/v1/inbound/twilio/${tenantId}`;
  const params = sms('SM0002');
  const signedForAnotherTenant = computeTwilioSignature(AUTH_TOKEN, `${baseUrl}/v1/inbound/twilio/other`, params);

  const wrong = await post(path, params, signedForAnotherTenant, 'forged-1');
  expect(wrong.status).toBe(403);
  expect(await wrong.json()).toEqual({ error: { code: 'SIGNATURE_INVALID', message: expect.any(String) } });
  const wrongToken = computeTwilioSignature('not-the-token', `${baseUrl}${path}`, params);
  expect((await post(path, params, wrongToken, 'forged-2')).status).toBe(403);
  expect((await post(path, params, undefined, 'forged-3')).status).toBe(403);

  const stored = await admin.query('SELECT 1 FROM comms_envelopes WHERE tenant_id = $1', [tenantId]);
  expect(stored.rowCount).toBe(0);
  const events = await admin.query('SELECT kind, service, reason, correlation_id FROM security_events WHERE tenant_id = $1 ORDER BY id', [
    tenantId,
  ]);
  expect(events.rows).toEqual([
    { kind: 'AUTH_DENY', service: 'comms', reason: 'X-Twilio-Signature does not match', correlation_id: 'forged-1' },
    { kind: 'AUTH_DENY', service: 'comms', reason: 'X-Twilio-Signature does not match', correlation_id: 'forged-2' },
    { kind: 'AUTH_DENY', service: 'comms', reason: 'X-Twilio-Signature is missing', correlation_id: 'forged-3' },
  ]);
});

it('is not served on the subgraph port, and the inbound port serves no /graphql', async () => {
  const tenantId = `${database.namespace}-ports`;
  const path = `/v1/inbound/twilio/${tenantId}`;
  const params = sms('SM0003');
  const onSubgraph = await post(path, params, computeTwilioSignature(AUTH_TOKEN, `${subgraphUrl}${path}`, params), 'ports-1', subgraphUrl);
  expect(onSubgraph.status).toBe(404);
  const graphql = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  expect(graphql.status).toBe(404);
  expect((await admin.query('SELECT 1 FROM comms_envelopes WHERE tenant_id = $1', [tenantId])).rowCount).toBe(0);
});

// Issue 14: /readyz and /metrics answered on the port exposed to Twilio.
it('serves /readyz and /metrics on the admin listener only: the inbound and the subgraph listeners answer 404', async () => {
  const statuses = async (base: string) =>
    Promise.all(['/healthz', '/readyz', '/metrics'].map(async (path) => (await fetch(`${base}${path}`)).status));
  expect(await statuses(baseUrl)).toEqual([200, 404, 404]);
  expect(await statuses(subgraphUrl)).toEqual([200, 404, 404]);
  expect(await statuses(adminUrl)).toEqual([200, 200, 200]);
  expect(await (await fetch(`${adminUrl}/readyz`)).json()).toEqual({ status: 'ready', checks: [{ name: 'postgres', ok: true }] });
});

it('takes forms only: a signed JSON body is 415 UNSUPPORTED_MEDIA_TYPE, storing nothing', async () => {
  const tenantId = `${database.namespace}-json`;
  const path = `/v1/inbound/twilio/${tenantId}`;
  // A JSON body can carry what a form cannot (here a number); signed with what the server would compute.
  const body = { ...sms('SM0004'), NumMedia: 1 };
  const response = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-twilio-signature': computeTwilioSignature(AUTH_TOKEN, `${baseUrl}${path}`, body as unknown as Record<string, string>),
    },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(415);
  expect(await response.json()).toEqual({
    error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('x-www-form-urlencoded') },
  });
  expect((await fetch(`${baseUrl}${path}`, { method: 'POST', body: 'MessageSid=SM1' })).status).toBe(415);
  expect((await admin.query('SELECT 1 FROM comms_envelopes WHERE tenant_id = $1', [tenantId])).rowCount).toBe(0);
});

it('answers 400 INVALID_PAYLOAD to a signed message that does not fit an envelope', async () => {
  const tenantId = `${database.namespace}-invalid`;
  const path = `/v1/inbound/twilio/${tenantId}`;
  const params = sms(`SM${'9'.repeat(300)}`);
  const response = await post(path, params, computeTwilioSignature(AUTH_TOKEN, `${baseUrl}${path}`, params), 'invalid-1');
  expect(response.status).toBe(400);
  expect(await response.json()).toEqual({ error: { code: 'INVALID_PAYLOAD', message: expect.any(String) } });
  expect((await admin.query('SELECT 1 FROM comms_envelopes WHERE tenant_id = $1', [tenantId])).rowCount).toBe(0);
});

/** A POST with a Host header of the sender's choosing (fetch cannot set one). */
function postWithHost(path: string, params: Record<string, string>, signature: string, host: string): Promise<number> {
  const body = new URLSearchParams(params).toString();
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${baseUrl}${path}`,
      {
        method: 'POST',
        headers: {
          host,
          'x-forwarded-host': host,
          'x-forwarded-proto': 'https',
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': signature,
        },
      },
      (response) => {
        response.resume();
        resolve(response.statusCode!);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

it('checks the signature against COMMS_PUBLIC_URL, never a URL rebuilt from the Host the sender chose', async () => {
  const tenantId = `${database.namespace}-host`;
  const path = `/v1/inbound/twilio/${tenantId}`;
  const params = sms('SM0005');
  // A request Twilio really signed, for another deployment under the same account (or captured
  // there), sent here naming that deployment's host: a URL rebuilt from Host would match it.
  for (const scheme of ['http', 'https']) {
    const signedElsewhere = computeTwilioSignature(AUTH_TOKEN, `${scheme}://staging.example${path}`, params);
    expect(await postWithHost(path, params, signedElsewhere, 'staging.example')).toBe(403);
  }
  // What Twilio sends still passes whatever Host a proxy forwards.
  const genuine = computeTwilioSignature(AUTH_TOKEN, `${baseUrl}${path}`, params);
  expect(await postWithHost(path, params, genuine, 'internal-proxy.local')).toBe(200);
  const stored = await admin.query('SELECT provider_message_id FROM comms_envelopes WHERE tenant_id = $1', [tenantId]);
  expect(stored.rows).toEqual([{ provider_message_id: 'SM0005' }]);
});

it('refuses the same MessageSid after 5 minutes with 403 REPLAYED and AUTH_DENY, keeping the first message', async () => {
  const tenantId = `${database.namespace}-replay`;
  const path = `/v1/inbound/twilio/${tenantId}`;
  const first = sms('SM0006');
  const signature = computeTwilioSignature(AUTH_TOKEN, `${baseUrl}${path}`, first);
  expect((await post(path, first, signature, 'replay-1')).status).toBe(200);
  // Within the window the same request is Twilio's retry.
  expect((await post(path, first, signature, 'replay-2')).status).toBe(200);

  await admin.query(`UPDATE comms_envelopes SET received_at = now() - interval '6 minutes' WHERE tenant_id = $1`, [tenantId]);
  const replay = await post(path, first, signature, 'replay-3');
  expect(replay.status).toBe(403);
  expect(await replay.json()).toEqual({ error: { code: 'REPLAYED', message: expect.any(String) } });
  // Another body under the same MessageSid, validly signed, is no way around it.
  const altered = { ...first, Body: 'another text' };
  expect((await post(path, altered, computeTwilioSignature(AUTH_TOKEN, `${baseUrl}${path}`, altered), 'replay-4')).status).toBe(403);

  const stored = await admin.query('SELECT payload, correlation_id FROM comms_envelopes WHERE tenant_id = $1', [tenantId]);
  expect(stored.rows).toEqual([{ payload: first, correlation_id: 'replay-1' }]);
  const events = await admin.query(
    `SELECT reason, correlation_id, details->>'providerMessageId' AS sid FROM security_events WHERE tenant_id = $1 ORDER BY id`,
    [tenantId],
  );
  expect(events.rows).toEqual([
    { reason: 'MessageSid was first received more than 5 minutes ago (a replay)', correlation_id: 'replay-3', sid: 'SM0006' },
    { reason: 'MessageSid was first received more than 5 minutes ago (a replay)', correlation_id: 'replay-4', sid: 'SM0006' },
  ]);
});

it('answers 400 INVALID_PAYLOAD to a signed message without a MessageSid (its replays could not be told apart)', async () => {
  const tenantId = `${database.namespace}-nosid`;
  const path = `/v1/inbound/twilio/${tenantId}`;
  const { MessageSid: _sid, ...params } = sms('SM0007');
  const response = await post(path, params, computeTwilioSignature(AUTH_TOKEN, `${baseUrl}${path}`, params), 'nosid-1');
  expect(response.status).toBe(400);
  expect(await response.json()).toEqual({ error: { code: 'INVALID_PAYLOAD', message: 'MessageSid is required' } });
  expect((await admin.query('SELECT 1 FROM comms_envelopes WHERE tenant_id = $1', [tenantId])).rowCount).toBe(0);
});
