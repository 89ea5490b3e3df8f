import { describe, expect, it } from 'vitest';
import { createManifest } from './manifest';
import { normalizeOperationText } from './normalizeOperation';
import { operationCost, parseCosts, validateCosts } from './operationCosts';

const operation = (text: string) => normalizeOperationText(text);
const signals = operation(
  'query Signals($tenantId: ID!, $first: Int) { signals(tenantId: $tenantId, first: $first) { edges { cursor } } }',
);
const status = operation('query Status($tenantId: ID!) { tenantCoherence(tenantId: $tenantId) { status } }');
const pageOf50 = { base: 2, scale: { variable: 'first', per: 50, max: 500 } };

describe('operationCost', () => {
  it('is the base cost when nothing scales the operation', () => {
    expect(operationCost({ base: 3 }, { first: 500 })).toBe(3);
  });

  it('spends the base for every page of `per` items asked for, rounded up', () => {
    expect(operationCost(pageOf50, { first: 50 })).toBe(2);
    expect(operationCost(pageOf50, { first: 51 })).toBe(4);
    expect(operationCost(pageOf50, { first: 500 })).toBe(20);
  });

  it('caps a huge value at `max`, and counts one page without the variable, for null, below 1 or not a number', () => {
    expect(operationCost(pageOf50, { first: 1e9 })).toBe(20);
    for (const variables of [{}, { first: null }, { first: -5 }, { first: 0 }, { first: '100000' }]) {
      expect(operationCost(pageOf50, variables)).toBe(2);
    }
  });
});

describe('validateCosts', () => {
  const manifest = createManifest([signals, status]);
  const costs = { Signals: pageOf50, Status: { base: 1 } };

  it('accepts a table with one entry per operation name', () => {
    expect(validateCosts(manifest.operations, costs)).toEqual([]);
  });

  it('names an operation without an entry and an entry without an operation', () => {
    expect(validateCosts(manifest.operations, { Signals: pageOf50, Gone: { base: 1 } })).toEqual([
      { name: 'Status', message: 'has no entry in costs.json' },
      { name: 'Gone', message: 'has an entry in costs.json but no operation in the manifest' },
    ]);
  });

  it.each([
    ['undeclared', 'query Signals($tenantId: ID!) { signals(tenantId: $tenantId) { edges { cursor } } }', 'is not declared by'],
    ['not an Int', 'query Signals($tenantId: ID!, $first: ID) { signals(tenantId: $tenantId) { edges { cursor } } }', 'must be an Int'],
    [
      'a list of Int',
      'query Signals($tenantId: ID!, $first: [Int]) { signals(tenantId: $tenantId) { edges { cursor } } }',
      'must be an Int',
    ],
    [
      'given a default',
      'query Signals($tenantId: ID!, $first: Int = 500) { signals(tenantId: $tenantId, first: $first) { edges { cursor } } }',
      'has a default value',
    ],
  ])('refuses a scaling variable that is %s', (_name, text, message) => {
    const problems = validateCosts(createManifest([operation(text), status]).operations, costs);
    expect(problems).toEqual([{ name: 'Signals', message: expect.stringContaining(`scale variable $first`) }]);
    expect(problems[0]!.message).toContain(message);
  });

  it('accepts Int! as well, and checks every id kept under the name (an old one without the variable fails)', () => {
    const required = operation(
      'query Signals($tenantId: ID!, $first: Int!) { signals(tenantId: $tenantId, first: $first) { edges { cursor } } }',
    );
    expect(validateCosts(createManifest([required, status]).operations, costs)).toEqual([]);
    const old = operation('query Signals($tenantId: ID!) { signals(tenantId: $tenantId) { edges { cursor } } }');
    expect(validateCosts(createManifest([old, signals, status]).operations, costs)).toEqual([
      { name: 'Signals', message: `scale variable $first is not declared by ${old.id.slice(0, 12)}` },
    ]);
  });
});

describe('parseCosts', () => {
  it.each([
    ['a cost of 0', { Status: { base: 0 } }, 'Status.base'],
    ['a fractional cost', { Status: { base: 1.5 } }, 'Status.base'],
    ['a scale without its cap', { Signals: { base: 1, scale: { variable: 'first', per: 50 } } }, 'Signals.scale.max'],
    ['an unknown field', { Status: { base: 1, weight: 2 } }, 'Status'],
  ])('refuses %s, naming where', (_name, json, where) => {
    expect(() => parseCosts(json)).toThrow(where);
  });
});
