import type { InternalCaller } from '@coherence/auth';
import { describe, expect, it } from 'vitest';
import { createInFlightFetches, sharedFetchKey, type SubgraphQuery } from './shareInFlightFetches';

const caller: InternalCaller = { subject: 'reader', scopes: ['coherence:read:self'], tenantIds: ['acme'], region: 'eu', requestId: 'r1' };
const read: SubgraphQuery = {
  query: 'query Q($id: ID!) { tenantCoherence(tenantId: $id) { score } }',
  operationName: 'Q',
  variables: { id: 'acme' },
};

/** A call that settles when the test says so, counting how often it was started. */
function controlledCall<T>() {
  let settle: { resolve: (value: T) => void; reject: (error: Error) => void } | undefined;
  let starts = 0;
  return {
    start: () => {
      starts += 1;
      return new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
    },
    resolve: (value: T) => settle!.resolve(value),
    reject: (error: Error) => settle!.reject(error),
    starts: () => starts,
  };
}

describe('sharedFetchKey', () => {
  it('is the same for two requests that differ only in request id and key order', () => {
    const other = { requestId: 'r2', region: 'eu', tenantIds: ['acme'], scopes: ['coherence:read:self'], subject: 'reader' };
    expect(sharedFetchKey('coherence', read, other)).toBe(sharedFetchKey('coherence', read, caller));
  });

  it.each<[string, Parameters<typeof sharedFetchKey>]>([
    ['another subgraph', ['comms', read, caller]],
    ['other variables', ['coherence', { ...read, variables: { id: 'globex' } }, caller]],
    ['another operation', ['coherence', { ...read, operationName: 'R' }, caller]],
    ['another subject', ['coherence', read, { ...caller, subject: 'operator' }]],
    ['other scopes', ['coherence', read, { ...caller, scopes: ['coherence:read'] }]],
    ['other admitted tenants', ['coherence', read, { ...caller, tenantIds: ['acme', 'globex'] }]],
    ['another region', ['coherence', read, { ...caller, region: 'us' }]],
    ['a replica region', ['coherence', read, { ...caller, replicaRegion: 'eu' }]],
  ])('differs for %s', (_what, args) => {
    expect(sharedFetchKey(...args)).not.toBe(sharedFetchKey('coherence', read, caller));
  });
});

describe('createInFlightFetches', () => {
  it('runs one call for identical ones in flight, and gives each caller its own copy', async () => {
    const fetches = createInFlightFetches<{ data: { score: number } }>();
    const call = controlledCall<{ data: { score: number } }>();
    const first = fetches.share('k', call.start);
    const second = fetches.share('k', call.start);
    const third = fetches.share('k', call.start);
    call.resolve({ data: { score: 0.5 } });
    const [a, b, c] = await Promise.all([first, second, third]);
    expect(call.starts()).toBe(1);
    expect([a.joined, b.joined, c.joined]).toEqual([false, true, true]);
    a.answer.data.score = 0;
    b.answer.data.score = 0.1;
    expect([a.answer.data.score, b.answer.data.score, c.answer.data.score]).toEqual([0, 0.1, 0.5]);
    expect(fetches.size()).toBe(0);
  });

  it('hands a call nobody joined its own answer, uncopied', async () => {
    const fetches = createInFlightFetches<{ data: { score: number } }>();
    const answer = { data: { score: 0.5 } };
    expect((await fetches.share('k', async () => answer)).answer).toBe(answer);
  });

  it('shares nothing once a call settled: the next identical one runs again', async () => {
    const fetches = createInFlightFetches<number>();
    let starts = 0;
    const start = async () => ++starts;
    expect((await fetches.share('k', start)).answer).toBe(1);
    expect((await fetches.share('k', start)).answer).toBe(2);
  });

  it('never shares between different keys', async () => {
    const fetches = createInFlightFetches<string>();
    const acme = controlledCall<string>();
    const globex = controlledCall<string>();
    const a = fetches.share('acme', acme.start);
    const g = fetches.share('globex', globex.start);
    acme.resolve('acme');
    globex.resolve('globex');
    expect([(await a).answer, (await g).answer]).toEqual(['acme', 'globex']);
  });

  it('fails every joined caller with the call that failed, and forgets it', async () => {
    const fetches = createInFlightFetches<string>();
    const call = controlledCall<string>();
    const first = fetches.share('k', call.start);
    const second = fetches.share('k', call.start);
    call.reject(new Error('subgraph away'));
    await expect(first).rejects.toThrow('subgraph away');
    await expect(second).rejects.toThrow('subgraph away');
    expect(fetches.size()).toBe(0);
  });
});
