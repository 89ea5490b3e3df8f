export interface CallBatcherOptions<Call, Result> {
  /** HTTP calls under way at once (at least 1) before further calls wait to go together. */
  inFlight: number;
  /** Most calls one HTTP call carries. */
  maxBatch: number;
  /** Sends calls (one or more) in one HTTP call; one settled result per call, in their order. */
  send: (calls: Call[]) => Promise<PromiseSettledResult<Result>[]>;
}

interface Waiting<Call, Result> {
  call: Call;
  resolve: (result: Result) => void;
  reject: (reason: unknown) => void;
}

/**
 * Batches the calls to one subgraph under load, and only under load
 * (docs/adr/0037-batched-subgraph-calls.md): while fewer than `inFlight`
 * HTTP calls are under way a call goes at once, alone, so an idle gateway
 * adds no wait; beyond that calls wait, and each time an HTTP call returns
 * those waiting go together in the next (at most `maxBatch`; a full batch
 * goes at once, whatever is under way). Each call is
 * answered with its own result or its own error; an HTTP call that fails
 * fails each of its calls.
 */
export function createCallBatcher<Call, Result>(options: CallBatcherOptions<Call, Result>) {
  let underWay = 0;
  const waiting: Waiting<Call, Result>[] = [];

  function send(batch: Waiting<Call, Result>[]): void {
    underWay += 1;
    const calls = batch.map((entry) => entry.call);
    const sent = options
      .send(calls)
      .catch((reason: unknown) => calls.map((): PromiseSettledResult<Result> => ({ status: 'rejected', reason })));
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
        if (waiting.length > 0) send(waiting.splice(0, options.maxBatch));
      });
  }

  return {
    call(call: Call): Promise<Result> {
      return new Promise<Result>((resolve, reject) => {
        waiting.push({ call, resolve, reject });
        // A full batch goes at once even with every lane busy: a slow call holds back at most one batch's worth.
        if (underWay < options.inFlight || waiting.length >= options.maxBatch) send(waiting.splice(0, options.maxBatch));
      });
    },
  };
}

export type CallBatcher<Call, Result> = ReturnType<typeof createCallBatcher<Call, Result>>;
