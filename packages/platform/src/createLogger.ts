import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * JSON logs, one line per event, with the service name on every line.
 * Request-scoped children add `tenant_id`, `request_id` and `trace_id`.
 */
export function createLogger(service: string, level: LevelWithSilent = 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['req.headers.authorization', 'headers.authorization'], censor: '[redacted]' },
  });
}
