import { shutdownTelemetry } from '@coherence/telemetry';
import type { FastifyInstance } from 'fastify';
import type { LevelWithSilent } from 'pino';
import { closeLogger, createLogger, type Logger } from './createLogger';
import { ConfigError } from './loadConfig';
import { onShutdown } from './onShutdown';

export interface RunnableService {
  /** The service listener; a process that serves no API (a worker, the relay) has none. */
  app?: FastifyInstance;
  /** The admin listener (/healthz, /readyz, /metrics), which `close()` closes last. */
  admin: FastifyInstance;
  close(): Promise<void>;
}

interface ListenAddress {
  port: number;
  host: string;
}

export interface RunServiceOptions<C> {
  name: string;
  readConfig: () => C;
  logLevel: (config: C) => LevelWithSilent;
  /** Where the service listener (`app`) listens. */
  listen?: (config: C) => ListenAddress;
  /** Where the admin listener listens: `<SERVICE>_ADMIN_PORT`, `<SERVICE>_ADMIN_HOST`. */
  listenAdmin: (config: C) => ListenAddress;
  create: (config: C, logger: Logger) => Promise<RunnableService>;
  /** Runs after the HTTP server listens (e.g. start a background loop). */
  afterListen?: () => void;
}

/**
 * The whole of a process's `main`: read config (exit 2 listing every
 * problem), build the service, listen (the service listener first, so that
 * /readyz cannot answer before it takes traffic), and close gracefully on
 * SIGTERM, exporting the spans still buffered last.
 */
export async function runService<C>(options: RunServiceOptions<C>): Promise<void> {
  let config: C;
  try {
    config = options.readConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(options.name, options.logLevel(config));
  try {
    const service = await options.create(config, logger);
    if (service.app && options.listen) {
      const address = await service.app.listen(options.listen(config));
      logger.info({ address }, `${options.name} listening`);
    }
    const adminAddress = await service.admin.listen(options.listenAdmin(config));
    logger.info({ address: adminAddress }, `${options.name} admin listening`);
    options.afterListen?.();
    onShutdown(logger, [
      { name: options.name, run: () => service.close() },
      { name: 'telemetry', run: shutdownTelemetry },
    ]);
  } catch (error) {
    logger.fatal({ err: error }, 'start-up failed');
    await closeLogger(logger);
    process.exit(1);
  }
}
