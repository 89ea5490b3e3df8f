import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

export interface FaultProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The one-way delay every chunk gets now, in each direction. */
  readonly latencyMs: number;
  /** Changes the delay for chunks that arrive from now on; 0 forwards at once. Order is kept either way. */
  setLatency(ms: number): void;
  /** Cuts every open connection (both ends), as a network partition or a dying peer would; the proxy keeps listening. */
  cutConnections(): void;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  target: { host: string; port: number };
  /** Default 0. */
  latencyMs?: number;
  /** Default 0: a free port. */
  port?: number;
}

/**
 * A loopback TCP proxy that forwards every chunk `latencyMs` after it
 * arrived, in each direction, in order: a WAN link's latency without its loss
 * (`bench:regions`), or a slow dependency (the `network-latency` and
 * `redis-slow` drills, docs/adr/0024-dependency-fault-drills.md). Each client
 * connection gets its own upstream connection; when the target is down, the
 * client's connection is closed as the target's refusal would be.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  let latencyMs = options.latencyMs ?? 0;
  const sockets = new Set<Socket>();
  const forward = (from: Socket, to: Socket) => {
    // When the last chunk in this direction is due: a later chunk never overtakes it after the latency drops.
    let lastDueAt = 0;
    const later = (action: () => void) => {
      const dueAt = Math.max(Date.now() + latencyMs, lastDueAt);
      lastDueAt = dueAt;
      const wait = dueAt - Date.now();
      if (wait <= 0) action();
      else setTimeout(action, wait);
    };
    from.on('data', (chunk) => later(() => to.writable && to.write(chunk)));
    from.on('end', () => later(() => to.end()));
    from.on('error', () => to.destroy());
  };
  const server = createServer((client) => {
    const upstream = createConnection(options.target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const cutConnections = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    get latencyMs() {
      return latencyMs;
    },
    setLatency(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`latency must be a non-negative number of ms, not ${ms}`);
      latencyMs = ms;
    },
    cutConnections,
    async close() {
      cutConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
