import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import costs from '@coherence/persisted-queries/costs.json' with { type: 'json' };
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createPersistedOperations } from '../persisted/createPersistedOperations';
import { supergraphPath } from '../supergraph/subgraphs';
import { testContext, testPrincipal } from './testContext';
import { usePersistedOperation } from './usePersistedOperation';

const operations = createPersistedOperations(manifest, costs, apiSchemaFromSupergraph(readFileSync(supergraphPath, 'utf8')));
const idOf = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;
const principal = testPrincipal('acme');
const http = usePersistedOperation({ operations: () => operations, transport: 'http' });
const websocket = usePersistedOperation({ operations: () => operations, transport: 'graphql-ws' });

const request = (payload: unknown) => testContext({ principal, payload });
const byHash = (id: string, variables: Record<string, unknown>) => ({
  extensions: { persistedQuery: { version: 1, sha256Hash: id } },
  variables,
});

describe('usePersistedOperation', () => {
  it('sets the operation, its variables and the tenant ids it touches', () => {
    const context = request(byHash(idOf('TenantCoherence'), { tenantId: 'acme' }));
    expect(http.onRequest!(context)).toBeUndefined();
    expect(context).toMatchObject({
      operation: { name: 'TenantCoherence' },
      variables: { tenantId: 'acme' },
      tenantIds: ['acme'],
      breakGlass: false,
    });
  });

  it('takes documentId as well as the persisted-query hash, on both transports', () => {
    for (const step of [http, websocket]) {
      const name = step === http ? 'TenantCoherence' : 'CoherenceEvents';
      const context = request({ documentId: `sha256:${idOf(name)}`, variables: { tenantId: 'acme' } });
      expect(step.onRequest!(context)).toBeUndefined();
      expect(context.operation?.name).toBe(name);
    }
  });

  it.each([
    ['query text', http, { query: '{ __typename }' }, 'PERSISTED_QUERY_REQUIRED'],
    ['an unknown id', http, byHash('f'.repeat(64), {}), 'PERSISTED_QUERY_NOT_FOUND'],
    ['an invalid tenant id', http, byHash(idOf('TenantCoherence'), { tenantId: 'not a tenant' }), 'BAD_USER_INPUT'],
    ['a subscription over HTTP', http, byHash(idOf('CoherenceEvents'), { tenantId: 'acme' }), 'BAD_USER_INPUT'],
    ['a query over the WebSocket', websocket, byHash(idOf('TenantCoherence'), { tenantId: 'acme' }), 'BAD_USER_INPUT'],
    ['a subscription without a tenant', websocket, byHash(idOf('CoherenceEvents'), {}), 'BAD_USER_INPUT'],
  ])('refuses %s with %s', (_name, step, payload, code) => {
    const context = request(payload);
    expect(step.onRequest!(context)).toMatchObject({ code });
    expect(context.operation).toBeUndefined();
  });
});
