import { closeLogger, type Logger } from './createLogger';

/** A step of graceful shutdown, run in the order given. */
export interface ShutdownStep {
  name: string;
  run: () => Promise<void>;
}

/**
 * On SIGTERM or SIGINT, runs each step in order (stop accepting work first,
 * then drain, then close connections) and exits 0; exits 1 if a step throws
 * or the whole sequence outlives `timeoutMs` (default 20_000). The log is
 * drained before the exit, so its last lines are never lost.
 */
export function onShutdown(logger: Logger, steps: readonly ShutdownStep[], timeoutMs = 20_000): void {
  let shuttingDown = false;
  /** Set once the log is being closed (by the timeout or at the end): nothing may be written to it after that. */
  let closing = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      closing = true;
      logger.error({ timeoutMs }, 'shutdown timed out');
      void closeLogger(logger).then(() => process.exit(1));
    }, timeoutMs);
    timer.unref();
    let exitCode = 0;
    for (const step of steps) {
      try {
        await step.run();
        if (closing) return;
        logger.info({ step: step.name }, 'shutdown step done');
      } catch (error) {
        if (closing) return;
        exitCode = 1;
        logger.error({ err: error, step: step.name }, 'shutdown step failed');
      }
    }
    // A step may have ended in the same turn as the timeout: the timeout's exit stands.
    if (closing) return;
    closing = true;
    clearTimeout(timer);
    logger.info('stopped');
    await closeLogger(logger);
    process.exit(exitCode);
  };
  process.once('SIGTERM', (signal) => void shutdown(signal));
  process.once('SIGINT', (signal) => void shutdown(signal));
}
