/**
 * An OTLP/HTTP trace receiver that keeps nothing, for `bench:gateway`: it
 * reads each export whole and answers 200 with an empty
 * `ExportTraceServiceResponse`, as a collector on another host would, so
 * that the traced gateway pays for making, encoding and sending its spans
 * and for nothing else on these cores (docs/adr/0020-traces.md).
 *
 *   tsx scripts/bench/support/otlpSink.ts --port N
 *
 * `GET /stats` answers what it received: `{ "exports": n, "bytes": n }`.
 * Prints one JSON line with its URL once listening; stops on SIGTERM.
 */
import { createServer } from 'node:http';
import { parseScriptArgs } from '../../commandLine';

const values = parseScriptArgs('usage: tsx scripts/bench/support/otlpSink.ts --port N', { port: { type: 'string' } });
const received = { exports: 0, bytes: 0 };

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/stats') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received));
    return;
  }
  if (request.method !== 'POST' || request.url !== '/v1/traces') {
    response.writeHead(404).end();
    return;
  }
  request.on('data', (chunk: Buffer) => (received.bytes += chunk.length));
  request.on('end', () => {
    received.exports += 1;
    // An empty message is a valid protobuf encoding of ExportTraceServiceResponse: everything accepted.
    response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
server.listen(Number(values.port), '127.0.0.1', () => console.log(JSON.stringify({ url: `http://127.0.0.1:${values.port}` })));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
