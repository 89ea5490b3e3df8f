import { destination as logDestination, pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

type Destination = ReturnType<typeof logDestination>;

/** Each process logger's own stdout stream, so that `closeLogger` can drain it. */
const destinations = new WeakMap<Logger, Destination>();

/**
 * JSON logs, one line per event, with the service name on every line.
 * Request-scoped children add `tenant_id`, `request_id` and `trace_id`.
 * Lines are written asynchronously (pino's default): call `closeLogger`
 * before `process.exit`.
 */
export function createLogger(service: string, level: LevelWithSilent = 'info'): Logger {
  const destination = logDestination({ dest: 1, sync: false });
  const logger = pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['req.headers.authorization', 'headers.authorization'], censor: '[redacted]' },
    },
    destination,
  );
  destinations.set(logger, destination);
  return logger;
}

/**
 * Resolves once every line logged so far is written and the stream is
 * closed (or after `timeoutMs`). Exiting without it loses or reorders the
 * last lines: pino's exit hook writes what is buffered synchronously, ahead
 * of a write still in flight on the thread pool — a process's "shutting
 * down" landed after its "stopped", or not at all. Only the first call
 * waits; later ones resolve at once.
 */
export function closeLogger(logger: Logger, timeoutMs = 2_000): Promise<void> {
  const destination = destinations.get(logger);
  if (!destination) return Promise.resolve();
  destinations.delete(logger);
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    destination.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    destination.end();
  });
}
