// The child process of createLogger.test.ts: logs a burst, each line in its own turn of the event loop as a busy
// service does, then exits the way onShutdown does.
import { closeLogger, createLogger } from '../createLogger';

const logger = createLogger('log-then-exit');
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
for (let line = 0; line < 50; line += 1) {
  logger.info({ line, padding: 'x'.repeat(200) }, 'line');
  await nextTurn();
}
logger.info('next to last');
await nextTurn();
logger.info('last');
await closeLogger(logger);
process.exit(0);
