import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createCallBatcher } from './batchSubgraphCalls';

/** A batcher over calls named by strings, whose HTTP calls settle when the test says so. */
function controlledBatcher(inFlight: number, maxBatch = 32, maxWaitMs = 60_000) {
  const sent: { calls: string[]; settle: (results: PromiseSettledResult<string>[] | Error) => void }[] = [];
  const batcher = createCallBatcher<string, string>({
    inFlight,
    maxBatch,
    maxWaitMs,
    send: (calls) =>
      new Promise((resolve, reject) =>
        sent.push({ calls, settle: (results) => (results instanceof Error ? reject(results) : resolve(results)) }),
      ),
  });
  /** Answers HTTP call `index` with each of its calls' name upper-cased. */
  const answer = (index: number) =>
    sent[index]!.settle(
      sent[index]!.calls.map((call): PromiseSettledResult<string> => ({ status: 'fulfilled', value: call.toUpperCase() })),
    );
  return { batcher, sent, answer };
}

const settled = <T>(promise: Promise<T>) =>
  promise.then(
    (value) => ({ value }),
    (error: Error) => ({ error: error.message }),
  );
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createCallBatcher', () => {
  it('sends calls at once, alone, while fewer than inFlight are under way', async () => {
    const { batcher, sent, answer } = controlledBatcher(2);
    const results = [batcher.call('a'), batcher.call('b')];
    expect(sent.map((call) => call.calls)).toEqual([['a'], ['b']]);
    answer(0);
    answer(1);
    expect(await Promise.all(results)).toEqual(['A', 'B']);
  });

  it('holds calls beyond inFlight and sends them together when a call returns, each answered with its own result', async () => {
    const { batcher, sent, answer } = controlledBatcher(1);
    const results = ['a', 'b', 'c', 'd'].map((call) => batcher.call(call));
    expect(sent.map((call) => call.calls)).toEqual([['a']]);
    answer(0);
    await tick();
    expect(sent.map((call) => call.calls)).toEqual([['a'], ['b', 'c', 'd']]);
    answer(1);
    expect(await Promise.all(results)).toEqual(['A', 'B', 'C', 'D']);
  });

  it('sends at most maxBatch calls together; the rest go in the next', async () => {
    const { batcher, sent, answer } = controlledBatcher(1, 3);
    const results = ['a', 'b', 'c', 'd', 'e'].map((call) => batcher.call(call));
    answer(0);
    await tick();
    expect(sent[1]!.calls).toEqual(['b', 'c', 'd']);
    answer(1);
    await tick();
    expect(sent[2]!.calls).toEqual(['e']);
    answer(2);
    expect(await Promise.all(results)).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('sends a full batch at once, even while every HTTP call it may have under way is', async () => {
    const { batcher, sent, answer } = controlledBatcher(1, 2);
    const results = ['a', 'b', 'c', 'd', 'e'].map((call) => batcher.call(call));
    // 'a' holds the one lane; 'b' and 'c' fill a batch and go; so do 'd' and 'e', none waiting for 'a'.
    expect(sent.map((call) => call.calls)).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
    for (const index of [2, 1, 0]) answer(index);
    expect(await Promise.all(results)).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('fails only the calls whose results failed; a failed HTTP call fails each of its calls, and the next still goes', async () => {
    const { batcher, sent, answer } = controlledBatcher(1);
    const results = ['a', 'b', 'c', 'd', 'e'].map((call) => settled(batcher.call(call)));
    answer(0);
    await tick();
    sent[1]!.settle([
      { status: 'fulfilled', value: 'B' },
      { status: 'rejected', reason: new Error('c refused') },
      { status: 'fulfilled', value: 'D' },
      { status: 'fulfilled', value: 'E' },
    ]);
    const [a, b, c, d, e] = await Promise.all(results);
    expect([a, b, c, d, e]).toEqual([{ value: 'A' }, { value: 'B' }, { error: 'c refused' }, { value: 'D' }, { value: 'E' }]);

    const more = ['f', 'g', 'h'].map((call) => settled(batcher.call(call)));
    sent[2]!.settle(new Error('connection refused'));
    await tick();
    expect(sent[3]!.calls).toEqual(['g', 'h']);
    sent[3]!.settle(new Error('subgraph gone'));
    expect(await Promise.all(more)).toEqual([{ error: 'connection refused' }, { error: 'subgraph gone' }, { error: 'subgraph gone' }]);
  });

  it('fails a call its batch left unanswered', async () => {
    const { batcher, sent, answer } = controlledBatcher(1);
    const results = ['a', 'b', 'c'].map((call) => settled(batcher.call(call)));
    answer(0);
    await tick();
    sent[1]!.settle([{ status: 'fulfilled', value: 'B' }]);
    expect(await Promise.all(results)).toEqual([{ value: 'A' }, { value: 'B' }, { error: 'a batch of 2 calls was answered 1 times' }]);
  });

  it('sends calls that waited maxWaitMs at once, while slow calls hold every lane', async () => {
    const { batcher, sent, answer } = controlledBatcher(1, 32, 20);
    const results = ['a', 'b', 'c'].map((call) => batcher.call(call));
    expect(sent.map((call) => call.calls)).toEqual([['a']]);
    await sleep(60);
    // 'a' has not returned; 'b' and 'c' went anyway.
    expect(sent.map((call) => call.calls)).toEqual([['a'], ['b', 'c']]);
    answer(1);
    answer(0);
    expect(await Promise.all(results)).toEqual(['A', 'B', 'C']);
  });

  it('sends each HTTP call in the async context of its first call, not of the call that returned before it', async () => {
    const request = new AsyncLocalStorage<string>();
    const sentIn: (string | undefined)[] = [];
    const settles: ((results: PromiseSettledResult<string>[]) => void)[] = [];
    const batcher = createCallBatcher<string, string>({
      inFlight: 1,
      maxBatch: 32,
      maxWaitMs: 60_000,
      send: (calls) => {
        sentIn.push(request.getStore());
        return new Promise((resolve) => settles.push(() => resolve(calls.map((call) => ({ status: 'fulfilled', value: call })))));
      },
    });
    const results = ['a', 'b', 'c'].map((call) => request.run(`request-${call}`, () => batcher.call(call)));
    settles[0]!([]);
    await tick();
    settles[1]!([]);
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c']);
    expect(sentIn).toEqual(['request-a', 'request-b']);
  });

  it('fails the calls of a send that throws before its first await, and keeps the lane', async () => {
    let throws = true;
    const batcher = createCallBatcher<string, string>({
      inFlight: 1,
      maxBatch: 32,
      maxWaitMs: 60_000,
      send: (calls) => {
        if (throws) throw new Error('cannot send');
        return Promise.resolve(calls.map((call) => ({ status: 'fulfilled', value: call.toUpperCase() })));
      },
    });
    await expect(batcher.call('a')).rejects.toThrow('cannot send');
    throws = false;
    expect(await batcher.call('b')).toBe('B');
  });
});
