import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { analyzeOperation } from './analyzeOperation';

describe('analyzeOperation', () => {
  it('reads root fields and the tenant ids of their arguments from the variables', () => {
    const shape = analyzeOperation(parse('query Q($tenantId: ID!) { tenantCoherence(tenantId: $tenantId) { score } }'));
    expect(shape.rootFields).toEqual(['tenantCoherence']);
    expect(shape.tenantIds({ tenantId: 'acme' })).toEqual(['acme']);
    expect(shape.tenantIds({})).toEqual([]);
  });

  it('finds root fields behind fragments and aliases, and literal tenant ids', () => {
    const shape = analyzeOperation(
      parse(`query Q { a: tenantCoherence(tenantId: "acme") { score } ...More ... on Query { __typename } }
             fragment More on Query { b: signals(tenantId: "globex") { pageInfo { hasNextPage } } }`),
    );
    expect(shape.rootFields).toEqual(['tenantCoherence', 'signals']);
    expect(shape.tenantIds({})).toEqual(['acme', 'globex']);
  });

  it('collects tenant ids inside input objects and lists, numbers included (ID accepts them)', () => {
    const shape = analyzeOperation(
      parse('mutation M($input: [SignalInput!]!, $key: String!) { publishSignals(input: $input, idempotencyKey: $key) { __typename } }'),
    );
    const input = [{ tenantId: 'acme', value: 1 }, { tenantId: 42 }, { nested: { tenantId: 'initech' } }];
    expect(shape.tenantIds({ input, key: 'k' }).sort()).toEqual(['42', 'acme', 'initech']);
    expect(shape.variableNames).toEqual(['input', 'key']);
  });

  it('walks any depth of nesting without recursion, in document order (issue 12: 5,000 nested arrays were a 500)', () => {
    const shape = analyzeOperation(
      parse('query Q($tenantId: ID!, $input: SignalInput) { tenantCoherence(tenantId: $tenantId, input: $input) { score } }'),
    );
    let deep: unknown = 'acme';
    for (let i = 0; i < 100_000; i += 1) deep = [deep];
    expect(shape.tenantIds({ tenantId: deep })).toEqual(['acme']);
    let deepObject: unknown = { tenantId: 'globex' };
    for (let i = 0; i < 100_000; i += 1) deepObject = { nested: deepObject };
    expect(shape.tenantIds({ tenantId: 'acme', input: deepObject })).toEqual(['acme', 'globex']);
    const input = { a: { tenantId: 'x' }, tenantId: ['y', ['v']], list: [['z', { tenantId: 'w' }]] };
    expect(shape.tenantIds({ tenantId: 'acme', input })).toEqual(['acme', 'x', 'y', 'v', 'w']);
  });

  it('applies variable defaults the request leaves out', () => {
    const shape = analyzeOperation(parse('query Q($tenantId: ID = "acme") { tenantCoherence(tenantId: $tenantId) { score } }'));
    expect(shape.tenantIds({})).toEqual(['acme']);
    expect(shape.tenantIds({ tenantId: 'globex' })).toEqual(['globex']);
  });

  it('refuses a document without exactly one operation', () => {
    expect(() => analyzeOperation(parse('query A { __typename } query B { __typename }'))).toThrow(/one operation/);
  });
});
