import { createTestDatabase, startApplication, type TestDatabase } from '@coherence/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Issue 14, item 1: `/metrics` and `/readyz` are served on each process's
 * admin listener only (docs/adr/0016-admin-listeners.md). Over the whole
 * application, every public or internal service port (the gateway, ingest's
 * producers and subgraph, the coherence subgraph, comms' subgraph and
 * inbound webhooks) refuses them as any unknown route, with a 404 NOT_FOUND
 * that carries no check result and no metric, however the path is spelled;
 * each admin listener serves them.
 */
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  app = await startApplication(inject('services'), database);
});

afterAll(async () => {
  await app?.stop();
  await database?.drop();
});

const probes = [
  '/readyz',
  '/metrics',
  '/readyz?verbose=1',
  '/metrics?name[]=process_cpu_user_seconds_total',
  '/metrics/',
  '//readyz',
  '/%72eadyz',
];

describe('admin endpoints on service ports', () => {
  it.each(['gateway', 'ingest', 'ingestSubgraph', 'coherence', 'comms', 'commsInbound'] as const)(
    '%s: /readyz and /metrics are 404 NOT_FOUND, with neither checks nor metrics in the body',
    async (listener) => {
      for (const probe of probes) {
        for (const method of ['GET', 'HEAD', 'POST'] as const) {
          const response = await fetch(`${app.serviceUrls[listener]}${probe}`, { method });
          const body = await response.text();
          expect({ probe, method, status: response.status }).toEqual({ probe, method, status: 404 });
          if (method === 'HEAD') continue;
          expect(body).toMatch(/"NOT_FOUND"/);
          expect(body).not.toMatch(/checks|process_cpu|http_request_duration/);
        }
      }
    },
  );

  it.each(['gateway', 'ingest', 'coherence', 'comms'] as const)('%s: its admin listener serves them', async (process) => {
    const ready = await fetch(`${app.adminUrls[process]}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: expect.arrayContaining([{ name: 'postgres', ok: true }]) });
    expect(await (await fetch(`${app.adminUrls[process]}/metrics`)).text()).toContain('process_cpu_user_seconds_total');
  });
});
