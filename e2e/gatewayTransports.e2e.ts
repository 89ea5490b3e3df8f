import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { createClient, type Client, type SubscribePayload } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';

/**
 * HTTP and graphql-ws run the gateway's one pipeline: the same refusal gives
 * the same registry code on both (over HTTP in the error body, over
 * WebSocket in the subscribe error, or the close reason when the connection
 * itself is refused). The kill switch starts off (bootstrap state, no Unleash).
 */
const operationId = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;
const UNKNOWN_ID = 'f'.repeat(64);

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
const clients: Client[] = [];

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  app = await startApplication(services, database, { gatewayEnv: { FLAGS_BOOTSTRAP: 'v24.coherence=off' } });
  await app.registerTenant(tenant('acme'));
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await app?.stop();
  await database?.drop();
});

const tenant = (name: string) => `${database.namespace}-${name}`;
const readToken = () => app.mintToken({ tenant: tenant('acme'), scopes: ['coherence:read:self'] });

interface Attempt {
  token: string | undefined;
  /** The HTTP request's operation (a query) and the WebSocket's (the subscription); both touch `tenantId`. */
  httpId: string;
  wsId: string;
  tenantId: string;
}

async function httpCode({ token, httpId, tenantId }: Attempt): Promise<string> {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: httpId } }, variables: { tenantId } }),
  });
  const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
  return body.errors[0]!.extensions.code;
}

async function webSocketCode({ token, wsId, tenantId }: Attempt, byDocumentId = false): Promise<string> {
  const client = createClient({
    url: `${app.gatewayUrl.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
  });
  clients.push(client);
  // graphql-ws's type has no `documentId`; the gateway reads it like HTTP's (GraphQL over HTTP persisted documents).
  const payload: SubscribePayload & { documentId?: string } = byDocumentId
    ? { query: '', variables: { tenantId }, documentId: `sha256:${wsId}` }
    : { query: '', variables: { tenantId }, extensions: { persistedQuery: { version: 1, sha256Hash: wsId } } };
  const events = client.iterate(payload);
  const refused: unknown = await events.next().then(
    () => undefined,
    (error: unknown) => error,
  );
  // A refused connection is a close (4403, code as reason); a refused subscribe is a list of GraphQL errors.
  if (Array.isArray(refused)) return (refused[0] as { extensions: { code: string } }).extensions.code;
  const close = refused as { code: number; reason: string };
  expect(close.code).toBe(4403);
  return close.reason;
}

describe('one refusal, one code, on both transports', () => {
  it.each([
    [
      'no token',
      async (): Promise<Attempt> => ({
        token: undefined,
        httpId: operationId('TenantCoherence'),
        wsId: operationId('CoherenceEvents'),
        tenantId: tenant('acme'),
      }),
      'UNAUTHENTICATED',
    ],
    [
      'an unknown persisted id',
      async (): Promise<Attempt> => ({ token: await readToken(), httpId: UNKNOWN_ID, wsId: UNKNOWN_ID, tenantId: tenant('acme') }),
      'PERSISTED_QUERY_NOT_FOUND',
    ],
    [
      'another tenant',
      async (): Promise<Attempt> => ({
        token: await readToken(),
        httpId: operationId('TenantCoherence'),
        wsId: operationId('CoherenceEvents'),
        tenantId: tenant('globex'),
      }),
      'FORBIDDEN',
    ],
    [
      'the kill switch off',
      async (): Promise<Attempt> => ({
        token: await readToken(),
        httpId: operationId('TenantCoherence'),
        wsId: operationId('CoherenceEvents'),
        tenantId: tenant('acme'),
      }),
      'FEATURE_DISABLED',
    ],
  ])('%s', async (_name, attemptOf, code) => {
    const attempt = await attemptOf();
    expect(await httpCode(attempt)).toBe(code);
    expect(await webSocketCode(attempt)).toBe(code);
  });
});

it('takes documentId over the WebSocket as over HTTP: the request reaches the same steps', async () => {
  const attempt = { token: await readToken(), httpId: UNKNOWN_ID, wsId: UNKNOWN_ID, tenantId: tenant('acme') };
  expect(await webSocketCode(attempt, true)).toBe('PERSISTED_QUERY_NOT_FOUND');
  // A known id gets as far as the kill switch, which is off here.
  expect(await webSocketCode({ ...attempt, wsId: operationId('CoherenceEvents') }, true)).toBe('FEATURE_DISABLED');
});

it('refuses each transport the other one’s operations with BAD_USER_INPUT, never a 500', async () => {
  const token = await readToken();
  // The subscription over HTTP (POST and GET) was a 500: Apollo cannot run one there.
  const subscriptionOverHttp = { token, httpId: operationId('CoherenceEvents'), wsId: UNKNOWN_ID, tenantId: tenant('acme') };
  expect(await httpCode(subscriptionOverHttp)).toBe('BAD_USER_INPUT');
  const query = new URLSearchParams({
    extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: operationId('CoherenceEvents') } }),
    variables: JSON.stringify({ tenantId: tenant('acme') }),
  });
  const overGet = await fetch(`${app.gatewayUrl}/graphql?${query}`, { headers: { authorization: `Bearer ${token}` } });
  expect(overGet.status).toBe(400);
  expect(((await overGet.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
  const queryOverWebSocket = { token, httpId: UNKNOWN_ID, wsId: operationId('TenantCoherence'), tenantId: tenant('acme') };
  expect(await webSocketCode(queryOverWebSocket)).toBe('BAD_USER_INPUT');
});
