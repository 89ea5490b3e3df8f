import { createServer, createConnection, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from './faultProxy';
import { freePort } from './freePort';

/** An echo server behind the proxy. */
let echo: Server;
let proxy: FaultProxy;

beforeAll(async () => {
  echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: (echo.address() as AddressInfo).port } });
});

afterAll(async () => {
  await proxy?.close();
  await new Promise((resolve) => echo.close(resolve));
});

const connect = () =>
  new Promise<Socket>((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port: proxy.port }, () => resolve(socket));
    socket.once('error', reject);
  });

/** Sends `text` and resolves with the echo once `text.length` bytes came back, and how long that took. */
const roundTrip = (socket: Socket, text: string) =>
  new Promise<{ echoed: string; ms: number }>((resolve) => {
    const startedAt = performance.now();
    let echoed = '';
    const onData = (chunk: Buffer) => {
      echoed += chunk.toString('utf8');
      if (echoed.length < text.length) return;
      socket.off('data', onData);
      resolve({ echoed, ms: performance.now() - startedAt });
    };
    socket.on('data', onData);
    socket.write(text);
  });

it('forwards both ways, delays each direction by the latency set, and in order when it drops', async () => {
  const socket = await connect();
  try {
    expect((await roundTrip(socket, 'plain')).echoed).toBe('plain');
    proxy.setLatency(150);
    const slow = await roundTrip(socket, 'slow');
    expect(slow.echoed).toBe('slow');
    // Once there and once back.
    expect(slow.ms).toBeGreaterThanOrEqual(295);
    // A chunk sent while the latency is high, then one after it drops to 0: the second must not overtake the first.
    let echoed = '';
    socket.on('data', (chunk: Buffer) => (echoed += chunk.toString('utf8')));
    socket.write('first|');
    proxy.setLatency(0);
    socket.write('second');
    while (echoed.length < 'first|second'.length) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(echoed).toBe('first|second');
  } finally {
    proxy.setLatency(0);
    socket.destroy();
  }
});

it('cuts open connections but keeps accepting new ones', async () => {
  const socket = await connect();
  const closed = new Promise((resolve) => socket.once('close', resolve));
  proxy.cutConnections();
  await closed;
  const again = await connect();
  expect((await roundTrip(again, 'again')).echoed).toBe('again');
  again.destroy();
});

it('closes the client connection when the target refuses', async () => {
  const down = await startFaultProxy({ target: { host: '127.0.0.1', port: await freePort() } });
  try {
    const socket = await new Promise<Socket>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port: down.port }, () => resolve(s));
    });
    await new Promise((resolve) => socket.once('close', resolve));
    expect(socket.destroyed).toBe(true);
  } finally {
    await down.close();
  }
});

it('refuses a negative latency', () => {
  expect(() => proxy.setLatency(-1)).toThrow(/non-negative/);
});
