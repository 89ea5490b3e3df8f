import { createChangePublisher, createOutboxRelay, type OutboxRelay } from '@coherence/coherence';
import { seedOperatorCommands } from '@coherence/comms/testing/seedOperatorCommands';
import {
  createTestDatabase,
  createUnleashAdmin,
  freePort,
  startUnleash,
  unleashClientEnv,
  type RunningUnleash,
  type TestDatabase,
} from '@coherence/devservices';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { buildWorkbench, startWorkbench, type RunningWorkbench } from '@coherence/workbench/server';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium, screenshotView, seriousAccessibilityViolations } from './support/browser';
import { startApplication } from './support/startApplication';

/**
 * The Workbench in Debian's Chromium against the whole application
 * (docs/testing-browser.md): its static server on an origin the gateway's
 * CORS allow-list names, a relay that publishes CoherenceChanged so the live
 * gauge moves, and an Unleash server of this file's own for the kill switch
 * (the switch is product-wide). Every view is checked with axe and
 * screenshotted at 375 px and 1440 px into reports/workbench/.
 */
const GAUGE_BOUND_MS = 2_000;
const workDir = mkdtempSync(join(tmpdir(), 'coherence-workbench-'));
const operationId = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;

let database: TestDatabase;
let unleash: RunningUnleash;
let app: Awaited<ReturnType<typeof startApplication>>;
let workbench: RunningWorkbench;
let relay: OutboxRelay;
let relayPool: PgPool;
let publisher: Redis;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let tenants: { acme: string; globex: string; initech: string };

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  const ns = database.namespace;
  tenants = { acme: `${ns}-acme`, globex: `${ns}-globex`, initech: `${ns}-initech` };
  const channel = `${ns}:coherence.changed`;
  unleash = await startUnleash({
    port: await freePort(),
    postgres: services.postgres,
    database: `${ns}_unleash`,
    logFile: join(workDir, 'unleash.log'),
    flags: { 'v24.coherence': true, 'region-routing': false },
  });
  // The gateway must list the Workbench's origin before either starts, so its port is chosen first.
  const workbenchPort = await freePort();
  app = await startApplication(services, database, {
    gatewayEnv: {
      GATEWAY_CORS_ORIGINS: `http://127.0.0.1:${workbenchPort}`,
      COHERENCE_CHANGED_CHANNEL: channel,
      ...unleashClientEnv(unleash, 200),
    },
  });
  for (const tenant of Object.values(tenants)) await app.registerTenant(tenant);
  const { distDir } = await buildWorkbench();
  workbench = await startWorkbench({
    gatewayUrl: app.gatewayUrl,
    port: workbenchPort,
    distDir,
    devTokens: { keysDir: app.keysDir, tenants: Object.values(tenants) },
  });
  // A running relay that publishes, as in the stack: the gauge moves without the test driving the projection.
  publisher = new Redis(services.redisUrl);
  relayPool = createPgPool(database.urls.relay);
  relay = createOutboxRelay({
    pool: relayPool,
    driver: app.driver,
    logger: createLogger('workbench-relay', 'silent'),
    windowHours: 24,
    idlePollMs: 50,
    publishChanged: createChangePublisher(publisher, channel),
  });
  relay.start();
  browser = await launchChromium();
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await relay?.stop();
  publisher?.disconnect();
  await relayPool?.end();
  await workbench?.close();
  await app?.stop();
  await unleash?.stop();
  await database?.drop();
  rmSync(workDir, { recursive: true, force: true });
});

/** A fresh browser context (the token lives in the page's memory only, so each sign-in starts clean). */
async function openWorkbench(path = '/'): Promise<Page> {
  await context?.close();
  context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  page = await context.newPage();
  await page.goto(`${workbench.url}${path}`);
  return page;
}

/** Dev sign-in through the form; returns the token the Workbench's server minted, to ask the API the same question. */
async function signIn(tenant: string, scopes: string[]): Promise<string> {
  const form = page.getByRole('form', { name: 'Dev sign-in' });
  await form.getByRole('combobox', { name: 'Tenant' }).selectOption(tenant);
  for (const scope of ['coherence:read:self', 'coherence:read', 'coherence:write:self', 'comms:operate'])
    await form.getByRole('checkbox', { name: scope, exact: true }).setChecked(scopes.includes(scope));
  const minted = page.waitForResponse((response) => response.url().endsWith('/dev/token'));
  await form.getByRole('button', { name: 'Sign in' }).click();
  const { token } = (await (await minted).json()) as { token: string };
  await expect.poll(() => page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);
  return token;
}

async function pushSignals(tenantId: string, value: number, count: number): Promise<void> {
  const now = Date.now();
  const response = await fetch(`${app.ingestUrl}/v1/signals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await app.writeHeaders(tenantId)) },
    body: JSON.stringify({
      signals: Array.from({ length: count }, (_, i) => ({
        tenantId,
        source: 'api',
        signalId: `workbench-${now}-${i}`,
        ts: new Date(now - (i + 1) * 1_000).toISOString(),
        type: 'health',
        value,
      })),
    }),
  });
  expect(response.status).toBe(202);
}

/** A persisted operation through the gateway with the browser's token: what the API answers that user. */
async function viaApi<T>(token: string, operation: string, variables: Record<string, unknown>): Promise<T> {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: operationId(operation) } }, variables }),
  });
  return ((await response.json()) as { data: T }).data;
}

const apiScore = async (token: string, tenantId: string) =>
  (await viaApi<{ tenantCoherence: { score: number | null } }>(token, 'TenantCoherence', { tenantId })).tenantCoherence.score;

const apiSourceWeight = async (token: string, tenantId: string, source: string) =>
  (
    await viaApi<{ tenantCoherence: { sources: { source: string; weight: number | null }[] } }>(token, 'TenantCoherence', { tenantId })
  ).tenantCoherence.sources.find((entry) => entry.source === source)?.weight;

const apiHistoryLength = async (token: string, tenantId: string) =>
  (await viaApi<{ tenantCoherenceHistory: { points: unknown[] } }>(token, 'TenantCoherenceHistory', { tenantId, limit: 100 }))
    .tenantCoherenceHistory.points.length;

const apiAuditLength = async (token: string, id: string) =>
  (await viaApi<{ commandAudit: { entries: unknown[] } }>(token, 'CommandAudit', { id })).commandAudit.entries.length;

const gauge = () => page.getByRole('meter', { name: 'Coherence score' });
const gaugeValue = async () => Number(await gauge().getAttribute('aria-valuenow'));

/** Axe first (the assertion that can fail), then the screenshots for review. */
async function checkView(view: string): Promise<void> {
  expect(await seriousAccessibilityViolations(page), `axe on ${view}`).toEqual([]);
  await screenshotView(page, view);
}

describe('the Workbench in Chromium', () => {
  it('signed out: offers the dev sign-in and the token paste, accessibly', async () => {
    await openWorkbench();
    await expect.poll(() => page.getByRole('form', { name: 'Dev sign-in' }).isVisible()).toBe(true);
    expect(await page.getByRole('form', { name: 'Paste a token' }).isVisible()).toBe(true);
    await checkView('sign-in');
  });

  it('shows a tenant the score the API answers with the same token', async () => {
    await pushSignals(tenants.acme, 0.9, 3);
    await openWorkbench();
    const token = await signIn(tenants.acme, ['coherence:read:self']);
    await expect.poll(async () => apiScore(token, tenants.acme), { timeout: 30_000 }).not.toBeNull();
    await checkView('home-signed-in');
    await page.getByRole('list', { name: 'Tenants' }).getByRole('link', { name: tenants.acme, exact: true }).click();
    await expect.poll(() => gauge().isVisible(), { timeout: 30_000 }).toBe(true);
    // The view may have loaded before the relay projected; the live subscription then brings the score.
    const expected = await apiScore(token, tenants.acme);
    await expect.poll(gaugeValue, { timeout: 30_000 }).toBe(expected);
    // The weight column: the source's Σw as the API answers it (each pushed signal weighs 1 by default).
    const apiRow = page
      .getByRole('table', { name: 'Sources' })
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: 'api' }) });
    expect(await page.getByRole('table', { name: 'Sources' }).getByRole('columnheader', { name: 'Weight' }).isVisible()).toBe(true);
    const weight = await apiSourceWeight(token, tenants.acme, 'api');
    expect(weight).toBeGreaterThanOrEqual(3);
    await expect.poll(() => apiRow.getByRole('cell').nth(1).textContent(), { timeout: 30_000 }).toBe(String(weight));
  });

  it(`moves the gauge within ${GAUGE_BOUND_MS} ms of a push's 202, without a reload`, async () => {
    await openWorkbench(`/tenants/${tenants.acme}`);
    await signIn(tenants.acme, ['coherence:read:self']);
    // With the page's alerts, so a refused subscription says why when this fails.
    const liveState = async () => ({
      state: await page.getByRole('status', { name: 'Live updates' }).textContent(),
      alerts: await page.getByRole('alert').allTextContents(),
    });
    await expect.poll(liveState, { timeout: 30_000 }).toEqual({ state: 'live', alerts: [] });
    const before = await gaugeValue();
    // A marker on the window and a change stamp: a reload would drop both.
    await page.evaluate(() => {
      const meter = document.querySelector('[role="meter"]')!;
      const stamps = window as unknown as { notReloaded: boolean; gaugeChangedAt?: number };
      stamps.notReloaded = true;
      new MutationObserver(() => (stamps.gaugeChangedAt ??= Date.now())).observe(meter, { attributeFilter: ['aria-valuenow'] });
    });
    await pushSignals(tenants.acme, 0.1, 3);
    const acceptedAt = Date.now();
    const changedAt = await page.waitForFunction(() => (window as unknown as { gaugeChangedAt?: number }).gaugeChangedAt, undefined, {
      timeout: 30_000,
      polling: 50,
    });
    const elapsedMs = Number(await changedAt.jsonValue()) - acceptedAt;
    process.stderr.write(`[workbench] gauge changed ${elapsedMs} ms after the push's 202\n`);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(await gaugeValue()).toBeLessThan(before);
    await checkView('tenant');
    expect(elapsedMs).toBeLessThanOrEqual(GAUGE_BOUND_MS);
  });

  it('draws the stored score history after a reload, with its text alternative', async () => {
    await openWorkbench(`/tenants/${tenants.acme}`);
    const token = await signIn(tenants.acme, ['coherence:read:self']);
    // The tests above changed acme's score at least twice (the first score, then the push of low values).
    await expect.poll(() => apiHistoryLength(token, tenants.acme), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    // A reload signs out (the token lives in memory only): what the chart shows now comes from the API, not from this page.
    await page.reload();
    await signIn(tenants.acme, ['coherence:read:self']);
    await expect.poll(() => page.getByRole('img', { name: 'Score history' }).isVisible(), { timeout: 30_000 }).toBe(true);
    // The text alternative is folded away under its summary; roles inside a closed <details> are hidden.
    await page.getByText('Score history as a table').click();
    const rows = page.getByRole('table', { name: 'Score history table' }).locator('tbody tr');
    await expect.poll(async () => (await rows.count()) === (await apiHistoryLength(token, tenants.acme)), { timeout: 30_000 }).toBe(true);
    expect(await page.locator('#history-caption').textContent()).toMatch(
      /^Score history: \d+ change\(s\) from .+ UTC to .+ UTC, latest \d\.\d{4}$/,
    );
    await checkView('tenant-history');
  });

  it('gets no answer from the gateway when served from an origin its allow-list does not name', async () => {
    const stranger = await startWorkbench({
      gatewayUrl: app.gatewayUrl,
      port: 0,
      devTokens: { keysDir: app.keysDir, tenants: [tenants.acme] },
    });
    try {
      await context?.close();
      context = await browser.newContext();
      page = await context.newPage();
      const refusedByBrowser = page.waitForEvent('requestfailed', (request) => request.url().startsWith(app.gatewayUrl));
      await page.goto(`${stranger.url}/tenants/${tenants.acme}`);
      await signIn(tenants.acme, ['coherence:read:self']);
      // The gateway answers, but without Access-Control-Allow-Origin the browser withholds the answer from the page.
      await refusedByBrowser;
      await expect.poll(() => page.getByRole('alert').first().textContent(), { timeout: 30_000 }).toContain('NETWORK_ERROR');
      expect(await gauge().count()).toBe(0);
      expect(await page.getByRole('status', { name: 'Live updates' }).textContent()).not.toBe('live');
    } finally {
      await stranger.close();
    }
  });

  it("shows the 403 message once, not data, for another tenant's id in the URL, and the live status refused", async () => {
    await openWorkbench(`/tenants/${tenants.globex}`);
    let sockets = 0;
    page.on('websocket', () => (sockets += 1));
    await signIn(tenants.acme, ['coherence:read:self']);
    await expect.poll(() => page.getByRole('alert').first().textContent(), { timeout: 30_000 }).toContain('TENANT_MISMATCH');
    const liveStatus = page.getByRole('status', { name: 'Live updates' });
    await expect.poll(() => liveStatus.textContent(), { timeout: 30_000 }).toBe('refused (FORBIDDEN TENANT_MISMATCH)');
    // The score read, the history read and the subscription were all refused for the one reason: one alert says it.
    expect(await page.getByRole('alert').allTextContents()).toEqual([
      'Your token may not do this. Your token is for another tenant. (FORBIDDEN TENANT_MISMATCH)',
    ]);
    // A refused subscription is not retried: no socket opens after the refusal, and the status stays refused.
    const socketsAtRefusal = sockets;
    await page.waitForTimeout(3_000);
    process.stderr.write(`[workbench] ${socketsAtRefusal} socket(s) opened up to the refusal, ${sockets} three seconds later\n`);
    expect(sockets).toBe(socketsAtRefusal);
    expect(await liveStatus.textContent()).toBe('refused (FORBIDDEN TENANT_MISMATCH)');
    expect(await page.getByRole('heading', { name: `Tenant ${tenants.globex}` }).isVisible()).toBe(true);
    expect(await gauge().count()).toBe(0);
    expect(await page.getByRole('table', { name: 'Sources' }).count()).toBe(0);
    await checkView('tenant-forbidden');
  });

  it('lets the operator retry a command from the queue and see its audit grow', async () => {
    const pool = createPgPool(database.urls.comms);
    const admin = createPgPool(database.adminUrl);
    const { open } = await seedOperatorCommands(pool, admin, tenants.initech).finally(() => Promise.all([pool.end(), admin.end()]));
    await openWorkbench();
    const token = await signIn(tenants.initech, ['comms:operate']);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Operator' }).click();
    await page.getByRole('textbox', { name: 'Tenant filter' }).fill(tenants.initech);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const queue = page.getByRole('table', { name: 'Troubleshooting queue' });
    await expect.poll(() => queue.getByRole('rowheader', { name: open }).isVisible(), { timeout: 30_000 }).toBe(true);
    await page.getByRole('button', { name: `Audit ${open}` }).click();
    const auditRows = page.getByRole('table', { name: 'Audit trail' }).locator('tbody tr');
    // The trail as the API tells it, shown in full before the action (so growth is the retry's, not the first load's).
    const before = await apiAuditLength(token, open);
    await expect.poll(() => auditRows.count(), { timeout: 30_000 }).toBe(before);
    await checkView('operator');

    await page.getByRole('button', { name: `Retry ${open}` }).click();
    const dialog = page.getByRole('dialog', { name: `Retry command ${open}` });
    await dialog.getByRole('textbox', { name: 'Reason' }).fill('receiver fixed, browser test');
    await checkView('operator-confirm');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => auditRows.filter({ hasText: 'receiver fixed, browser test' }).count(), { timeout: 30_000 }).toBe(1);
    expect(await auditRows.count()).toBeGreaterThan(before);
    expect(await page.getByRole('alert').count()).toBe(0);
  });

  it('shows the status view, then the disabled state once the kill switch is off', async () => {
    await openWorkbench();
    await signIn(tenants.acme, ['coherence:read:self']);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Status' }).click();
    const killSwitchState = page
      .getByRole('table', { name: 'Gateway flags' })
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: 'v24.coherence' }) })
      .getByRole('cell');
    await expect.poll(() => killSwitchState.textContent(), { timeout: 30_000 }).toBe('on');
    await checkView('status');

    await createUnleashAdmin(unleash).setFlag('v24.coherence', false);
    try {
      // The gateway sees the flag within a refresh or two; each visit to the tenant view asks again. A visit
      // can straddle the refresh (the score read before it, the history after), so the view is judged whole:
      // the refusal shown and no gauge, on one visit.
      await expect
        .poll(
          async () => {
            await nav.getByRole('link', { name: 'Home' }).click();
            await page.getByRole('list', { name: 'Tenants' }).getByRole('link', { name: tenants.acme, exact: true }).click();
            const disabled = (await page.getByRole('alert').allTextContents()).join(' ').includes('FEATURE_DISABLED');
            return { disabled, gauges: await gauge().count() };
          },
          { timeout: 30_000, interval: 500 },
        )
        .toEqual({ disabled: true, gauges: 0 });
      await expect
        .poll(() => page.getByRole('status', { name: 'Live updates' }).textContent(), { timeout: 30_000 })
        .toBe('refused (FEATURE_DISABLED)');
      await checkView('tenant-disabled');
      await nav.getByRole('link', { name: 'Status' }).click();
      await expect.poll(() => killSwitchState.textContent(), { timeout: 30_000 }).toBe('off');
      await checkView('status-disabled');
    } finally {
      await createUnleashAdmin(unleash).setFlag('v24.coherence', true);
    }
  });
});
