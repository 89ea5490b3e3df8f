/** A server that can be stopped and started again on the same port with the same data dir (the dependency drills). */
export interface Restartable<T extends { stop(): Promise<void> }> {
  /** The running server; undefined while stopped. */
  readonly current: T | undefined;
  /** Stops the server; idempotent. */
  stop(): Promise<void>;
  /** Starts it again with the options of its first start; resolves once it is healthy (at once when it runs). */
  start(): Promise<T>;
  /** Stops it and starts it again. */
  restart(): Promise<T>;
}

/**
 * Starts a server through `start` and keeps that call, so a drill can stop
 * the server and start the same one again: every start function of this kit
 * reuses an existing data dir (docs/adr/0024-dependency-fault-drills.md).
 */
export async function startRestartable<T extends { stop(): Promise<void> }>(start: () => Promise<T>): Promise<Restartable<T>> {
  let current: T | undefined = await start();
  // One start or stop at a time: a drill healing while a test's cleanup stops everything must not start a second server.
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <R>(action: () => Promise<R>): Promise<R> => {
    const next = queue.then(action, action);
    queue = next.catch(() => undefined);
    return next;
  };
  const stop = () =>
    serially(async () => {
      const running = current;
      current = undefined;
      await running?.stop();
    });
  const startAgain = () =>
    serially(async () => {
      current ??= await start();
      return current;
    });
  return {
    get current() {
      return current;
    },
    stop,
    start: startAgain,
    async restart() {
      await stop();
      return startAgain();
    },
  };
}
