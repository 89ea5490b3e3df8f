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
  const shutdown = async (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out');
      void closeLogger(logger).then(() => process.exit(1));
    }, timeoutMs);
    timer.unref();
    let exitCode = 0;
    for (const step of steps) {
      try {
        await step.run();
        logger.info({ step: step.name }, 'shutdown step done');
      } catch (error) {
        exitCode = 1;
        logger.error({ err: error, step: step.name }, 'shutdown step failed');
      }
    }
    logger.info('stopped');
    await closeLogger(logger);
    process.exit(exitCode);
  };
  process.once('SIGTERM', (signal) => void shutdown(signal));
  process.once('SIGINT', (signal) => void shutdown(signal));
}
