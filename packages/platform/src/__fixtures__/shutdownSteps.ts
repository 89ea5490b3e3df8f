// The child process of onShutdown.test.ts: registers shutdown steps as the services do, says "ready" on stderr, and
// waits for the test's signal. Arguments: how long the one step takes, and the sequence's limit, in ms.
import { createLogger } from '../createLogger';
import { onShutdown } from '../onShutdown';

const logger = createLogger('shutdown-steps');
const [stepMs, timeoutMs] = process.argv.slice(2).map(Number);
onShutdown(logger, [{ name: 'drain', run: () => new Promise((resolve) => setTimeout(resolve, stepMs)) }], timeoutMs);
// Keeps the process alive until the signal, as a listener would.
setInterval(() => undefined, 60_000);
process.stderr.write('ready\n');
