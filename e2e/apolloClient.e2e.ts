import { ApolloClient, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { generatePersistedQueryIdsFromManifest } from '@apollo/persisted-query-lists';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';

/**
 * A real Apollo Client with Apollo's persisted-query-lists link, reading
 * through the running gateway: the link finds the id in our manifest by
 * operation name and sends only that id.
 */
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  app = await startApplication(inject('services'), database);
});

afterAll(async () => {
  await app?.stop();
  await database?.drop();
});

it('gets data through the gateway with only the persisted id on the wire', async () => {
  const tenantId = `${database.namespace}-apollo`;
  const sent: unknown[] = [];
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link: new PersistedQueryLink(generatePersistedQueryIdsFromManifest({ loadManifest: async () => manifest })).concat(
      new HttpLink({
        uri: `${app.gatewayUrl}/graphql`,
        headers: await app.readHeaders(tenantId),
        fetch: async (url, init) => {
          sent.push(JSON.parse(String(init?.body)));
          return fetch(url, init);
        },
      }),
    ),
  });
  const document = gql(readFileSync(new URL('../persisted-queries/operations/TenantCoherence.graphql', import.meta.url), 'utf8'));
  const { data, error } = await client.query({ query: document, variables: { tenantId } });
  expect(error).toBeUndefined();
  expect(data).toMatchObject({ tenantCoherence: { tenantId, status: 'UNKNOWN', score: null, __typename: 'CoherenceScore' } });
  expect(sent).toHaveLength(1);
  expect(sent[0]).not.toHaveProperty('query');
  const id = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
  expect(sent[0]).toMatchObject({ extensions: { persistedQuery: { version: 1, sha256Hash: id } } });
});
