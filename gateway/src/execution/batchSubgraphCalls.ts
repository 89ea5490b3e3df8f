import { AsyncResource } from 'node:async_hooks';

export interface CallBatcherOptions<Call, Result> {
  /** HTTP calls under way at once (at least 1) before further calls wait to go together. */
  inFlight: number;
  /** Most calls one HTTP call carries. */
  maxBatch: number;
  /** Longest a call waits for a lane: past it, those waiting go at once, whatever is under way. */
  maxWaitMs: number;
  /** Sends calls (one or more) in one HTTP call; one settled result per call, in their order. */
  send: (calls: Call[]) => Promise<PromiseSettledResult<Result>[]>;
}

interface Waiting<Call, Result> {
  call: Call;
  resolve: (result: Result) => void;
  reject: (reason: unknown) => void;
  /** The async context (trace, tenant baggage) the call was asked for in. */
  context: AsyncResource;
}

/**
 * Batches the calls to one subgraph under load, and only under load
 * (docs/adr/0037-batched-subgraph-calls.md): while fewer than `inFlight`
 * HTTP calls are under way a call goes at once, alone, so an idle gateway
 * adds no wait; beyond that calls wait, and each time an HTTP call returns
 * those waiting go together in the next (at most `maxBatch`). Waiting has
 * bounds: a full batch goes at once, and so do those waiting `maxWaitMs`,
 * whatever is under way, so slow calls holding every lane delay the others
 * by at most that. Each call is answered with its own result or its own
 * error; an HTTP call that fails fails each of its calls. An HTTP call is
 * sent in the async context of its first call (its trace), not in that of
 * whichever call returned before it.
 */
export function createCallBatcher<Call, Result>(options: CallBatcherOptions<Call, Result>) {
  let underWay = 0;
  const waiting: Waiting<Call, Result>[] = [];
  let waitTimer: NodeJS.Timeout | undefined;

  function sendWaiting(): void {
    clearTimeout(waitTimer);
    waitTimer = undefined;
    const batch = waiting.splice(0, options.maxBatch);
    if (waiting.length > 0) waitTimer = setTimeout(sendWaiting, options.maxWaitMs);
    underWay += 1;
    const calls = batch.map((entry) => entry.call);
    // A throw before `send`'s first await is its failure too, never a lost call or a lane held for good.
    const sent = new Promise<PromiseSettledResult<Result>[]>((resolve) =>
      resolve(batch[0]!.context.runInAsyncScope(() => options.send(calls))),
    ).catch((reason: unknown) => calls.map((): PromiseSettledResult<Result> => ({ status: 'rejected', reason })));
    void sent
      .then((results) => {
        for (const [index, entry] of batch.entries()) {
          const result = results[index];
          if (result?.status === 'fulfilled') entry.resolve(result.value);
          else entry.reject(result ? result.reason : new Error(`a batch of ${batch.length} calls was answered ${results.length} times`));
        }
      })
      .finally(() => {
        underWay -= 1;
        if (waiting.length > 0) sendWaiting();
      });
  }

  return {
    call(call: Call): Promise<Result> {
      return new Promise<Result>((resolve, reject) => {
        waiting.push({ call, resolve, reject, context: new AsyncResource('coherence.subgraph-call') });
        if (underWay < options.inFlight || waiting.length >= options.maxBatch) sendWaiting();
        else waitTimer ??= setTimeout(sendWaiting, options.maxWaitMs);
      });
    },
  };
}

export type CallBatcher<Call, Result> = ReturnType<typeof createCallBatcher<Call, Result>>;
