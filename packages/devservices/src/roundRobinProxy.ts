import { createProxyServer } from 'http-proxy-3';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export interface RoundRobinProxy {
  /** `http://host:port` of the proxy. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface RoundRobinProxyOptions {
  /** Base URLs (`http://127.0.0.1:4200`) of the instances behind the proxy. */
  targets: readonly string[];
  /** Default 0: a free port. */
  port?: number;
  host?: string;
}

/**
 * Stands in for the load balancer in the dev stack and the scale-out test:
 * each HTTP request and each WebSocket upgrade (graphql-ws subscriptions) goes
 * to the next instance in turn, headers passed on as sent (plus the
 * `x-forwarded-*` ones). In production the Ingress or a cloud load balancer
 * does this (docs/adr/0019-scale-out.md); this proxy has no health checks and
 * no retries: an instance that is down answers 502 for its turns.
 */
export async function startRoundRobinProxy(options: RoundRobinProxyOptions): Promise<RoundRobinProxy> {
  if (options.targets.length === 0) throw new Error('a round-robin proxy needs at least one target');
  const proxy = createProxyServer({ xfwd: true });
  let turn = 0;
  const nextTarget = () => options.targets[turn++ % options.targets.length]!;
  const server = createServer((req, res) => {
    proxy.web(req, res, { target: nextTarget() }, (error) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'BAD_GATEWAY', message: `instance unreachable: ${error.message}` } }));
    });
  });
  // An upgraded socket is the server's no more: close() ends these itself.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req, socket: Duplex, head) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    proxy.ws(req, socket, head, { target: nextTarget() }, () => socket.destroy());
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    async close() {
      server.closeAllConnections();
      for (const socket of upgraded) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      proxy.close();
    },
  };
}
