import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Internal details never reach clients, whatever NODE_ENV says. Apollo Server
 * puts stack traces into error responses unless NODE_ENV is `production` or
 * `test`; the dev stack and a misconfigured deployment run with neither. This
 * file runs the application as they do (its own process: NODE_ENV set here
 * reaches only it) and sends requests that fail in the gateway and in a
 * subgraph.
 */
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;

beforeAll(async () => {
  process.env['NODE_ENV'] = 'development';
  database = await createTestDatabase(inject('services'));
  app = await startApplication(inject('services'), database);
});

afterAll(async () => {
  await app?.stop();
  await database?.drop();
});

const opId = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;

async function post(operation: string, variables: Record<string, unknown>, scopes: string[], tenantId: string) {
  await app.registerTenant(tenantId);
  const token = await app.mintToken({ tenant: tenantId, scopes });
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: opId(operation) } }, variables }),
  });
  return { status: response.status, text: await response.text() };
}

describe('error responses outside production', () => {
  it('carry no stack trace when the gateway refuses a variable', async () => {
    const { text } = await post('TroubleshootingQueue', { first: 'many' }, ['comms:operate'], `${database.namespace}-ops`);
    expect(JSON.parse(text)).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
    expect(text).not.toMatch(/stacktrace|node_modules/);
  });

  it('carry no stack trace when a subgraph refuses an argument', async () => {
    const { text } = await post('TroubleshootingQueue', { first: 100_000 }, ['comms:operate'], `${database.namespace}-ops`);
    expect(JSON.parse(text)).toMatchObject({ errors: [{ extensions: { code: 'INVALID_ARGUMENT' } }] });
    expect(text).not.toMatch(/stacktrace|node_modules/);
  });
});
