import type { InternalCaller } from '@coherence/auth';
import { canonicalJson } from '@coherence/platform';
import type { SubgraphName } from '../supergraph/subgraphs';

/** What a subgraph call asks, as Apollo hands it to a data source. */
export interface SubgraphQuery {
  query?: string;
  operationName?: string;
  variables?: Record<string, unknown>;
}

/**
 * The identity of a subgraph call for sharing: the subgraph, the operation and
 * its variables, and everything the call's internal token vouches for except
 * the request id (docs/adr/0011-signed-subgraph-calls.md). Two calls with the
 * same key get the same answer from the subgraph, so one may stand for both;
 * calls that differ in subject, scopes, admitted tenants or regions never
 * share (docs/adr/0033-subgraph-fetch.md).
 */
export function sharedFetchKey(subgraph: SubgraphName, request: SubgraphQuery, caller: InternalCaller): string {
  const { requestId: _perRequest, ...identity } = caller;
  return canonicalJson([subgraph, request.operationName ?? null, request.query ?? null, request.variables ?? null, identity]);
}

/**
 * Identical calls in flight at once share one: the first starts it, the
 * others join it until it settles. Apollo merges a subgraph's answer into the
 * response in place, so when anyone joined, each caller gets its own copy;
 * a call nobody joined (every call of a load spread over tenants) keeps its
 * answer uncopied.
 */
export function createInFlightFetches<T>() {
  const inFlight = new Map<string, { answer: Promise<T>; joiners: number }>();
  return {
    async share(key: string, start: () => Promise<T>): Promise<{ answer: T; joined: boolean }> {
      const running = inFlight.get(key);
      if (running !== undefined) {
        running.joiners += 1;
        return { answer: structuredClone(await running.answer), joined: true };
      }
      // Gone from the map before `answer` settles for anyone, so `joiners` is final when the starter reads it.
      const started = { answer: start().finally(() => inFlight.delete(key)), joiners: 0 };
      inFlight.set(key, started);
      const answer = await started.answer;
      return { answer: started.joiners === 0 ? answer : structuredClone(answer), joined: false };
    },
    /** Calls in flight now (none is left behind once every call settled). */
    size: () => inFlight.size,
  };
}

export type InFlightFetches<T> = ReturnType<typeof createInFlightFetches<T>>;
