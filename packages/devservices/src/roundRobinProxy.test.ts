import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startRoundRobinProxy, type RoundRobinProxy } from './roundRobinProxy';

/** Two instances that say who they are and echo what reached them; the proxy in front of them. */
const instances: Server[] = [];
let proxy: RoundRobinProxy;

beforeAll(async () => {
  for (const name of ['one', 'two']) {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ name, path: req.url, authorization: req.headers.authorization, forwardedFor: req.headers['x-forwarded-for'] }),
      );
    });
    const sockets = new WebSocketServer({ server });
    sockets.on('connection', (socket, req) => socket.send(`${name} ${req.headers['sec-websocket-protocol']}`));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    instances.push(server);
  }
  proxy = await startRoundRobinProxy({ targets: instances.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`) });
});

afterAll(async () => {
  await proxy?.close();
  for (const server of instances) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

it('sends requests to the instances in turn, with their path and headers', async () => {
  const answers = [];
  for (let i = 0; i < 4; i += 1) {
    const response = await fetch(`${proxy.url}/graphql?n=${i}`, { headers: { authorization: 'Bearer t' } });
    answers.push(await response.json());
  }
  expect(answers).toEqual(
    ['one', 'two', 'one', 'two'].map((name, i) => ({
      name,
      path: `/graphql?n=${i}`,
      authorization: 'Bearer t',
      forwardedFor: '127.0.0.1',
    })),
  );
});

it('passes WebSocket upgrades through, in turn too', async () => {
  const greetings = [];
  for (let i = 0; i < 2; i += 1) {
    const socket = new WebSocket(`${proxy.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    greetings.push(await new Promise((resolve) => socket.once('message', (data: Buffer) => resolve(data.toString()))));
    socket.close();
  }
  expect(greetings.sort()).toEqual(['one graphql-transport-ws', 'two graphql-transport-ws']);
});

it('answers 502 for the turn of an instance that is down', async () => {
  const down = await startRoundRobinProxy({ targets: ['http://127.0.0.1:1'] });
  try {
    const response = await fetch(`${down.url}/healthz`);
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ error: { code: 'BAD_GATEWAY' } });
  } finally {
    await down.close();
  }
});
