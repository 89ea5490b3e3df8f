/**
 * The subscription endpoint as a process of its own, for `bench:fanout`:
 * the benchmark's thousand clients must not share its event loop.
 *
 *   tsx scripts/bench/fanoutServer.ts --redis-url URL --channel NAME --jwks PATH
 *
 * Prints one JSON line with its URLs once listening; stops on SIGTERM.
 */
import { createLogger } from '@coherence/platform';
import { parseArgs } from 'node:util';
import { startFanoutEndpoint } from './fanoutEndpoint';

const { values } = parseArgs({
  options: { 'redis-url': { type: 'string' }, channel: { type: 'string' }, jwks: { type: 'string' } },
});
const redisUrl = values['redis-url'];
const { channel, jwks } = values;
if (!redisUrl || !channel || !jwks) {
  console.error('usage: tsx scripts/bench/fanoutServer.ts --redis-url URL --channel NAME --jwks PATH');
  process.exit(2);
}
const endpoint = await startFanoutEndpoint({ redisUrl, channel, jwksPath: jwks, logger: createLogger('bench-server', 'warn') });
console.log(JSON.stringify({ wsUrl: endpoint.wsUrl, metricsUrl: endpoint.metricsUrl }));
process.once('SIGTERM', () => void endpoint.close().then(() => process.exit(0)));
