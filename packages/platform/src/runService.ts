import type { FastifyInstance } from 'fastify';
import type { LevelWithSilent } from 'pino';
import { createLogger, type Logger } from './createLogger';
import { ConfigError } from './loadConfig';
import { onShutdown } from './onShutdown';

export interface RunnableService {
  app: FastifyInstance;
  close(): Promise<void>;
}

export interface RunServiceOptions<C> {
  name: string;
  readConfig: () => C;
  logLevel: (config: C) => LevelWithSilent;
  listen: (config: C) => { port: number; host: string };
  create: (config: C, logger: Logger) => Promise<RunnableService>;
  /** Runs after the HTTP server listens (e.g. start a background loop). */
  afterListen?: () => void;
}

/**
 * The whole of a process's `main`: read config (exit 2 listing every
 * problem), build the service, listen, and close gracefully on SIGTERM.
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
    const address = await service.app.listen(options.listen(config));
    logger.info({ address }, `${options.name} listening`);
    options.afterListen?.();
    onShutdown(logger, [{ name: options.name, run: () => service.close() }]);
  } catch (error) {
    logger.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  }
}
