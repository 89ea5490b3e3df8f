import { createTokenVerifier, DEV_ISSUER, ensureDevKeys } from '@coherence/auth';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startWorkbench, type RunningWorkbench } from './startWorkbench';

const GATEWAY = 'http://127.0.0.1:4000';
const INDEX = '<!doctype html><title>Coherence Workbench</title><div id="root"></div>';

let dir: string;
let distDir: string;
let keysDir: string;
const running: RunningWorkbench[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'workbench-'));
  distDir = join(dir, 'dist');
  keysDir = join(dir, 'keys');
  await mkdir(join(distDir, 'assets'), { recursive: true });
  await writeFile(join(distDir, 'index.html'), INDEX);
  await writeFile(join(distDir, 'assets', 'index-abc123.js'), 'console.log("app")');
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(running.splice(0).map((workbench) => workbench.close()));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(options: Partial<Parameters<typeof startWorkbench>[0]> = {}) {
  const workbench = await startWorkbench({ gatewayUrl: GATEWAY, port: 0, distDir, ...options });
  running.push(workbench);
  return workbench;
}

const devTokens = () => ({ keysDir, tenants: ['acme', 'globex', 'initech'] });

describe('the static server', () => {
  it('serves the pages under a strict CSP that lets them reach the gateway only', async () => {
    const { url } = await start();
    const response = await fetch(`${url}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(INDEX);
    expect(response.headers.get('content-security-policy')).toBe(
      "default-src 'self'; connect-src 'self' http://127.0.0.1:4000 ws://127.0.0.1:4000; script-src 'self'; style-src 'self'; " +
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cache-control')).toBe('no-cache');
  });

  it('serves hashed assets as immutable and a missing one as 404, not as the page', async () => {
    const { url } = await start();
    const asset = await fetch(`${url}/assets/index-abc123.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toContain('javascript');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const missing = await fetch(`${url}/assets/gone-000.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-security-policy')).toContain("default-src 'self'");
  });

  it('answers app routes with index.html so a reload or a shared link works', async () => {
    const { url } = await start();
    for (const path of ['/tenants/acme', '/operator', '/status?x=1']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBe(200);
      expect(await response.text(), path).toBe(INDEX);
    }
    expect((await fetch(`${url}/tenants/acme`, { method: 'POST' })).status).toBe(404);
  });

  it('tells the app where the gateway is in /config.json, with https giving wss', async () => {
    const plain = await start();
    expect(await (await fetch(`${plain.url}/config.json`)).json()).toEqual({
      gatewayUrl: GATEWAY,
      gatewayWsUrl: 'ws://127.0.0.1:4000/graphql',
      devSignIn: false,
    });
    const tls = await start({ gatewayUrl: 'https://api.example:8443/' });
    const response = await fetch(`${tls.url}/config.json`);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toMatchObject({ gatewayUrl: 'https://api.example:8443', gatewayWsUrl: 'wss://api.example:8443/graphql' });
    expect(response.headers.get('content-security-policy')).toContain(
      "connect-src 'self' https://api.example:8443 wss://api.example:8443;",
    );
  });

  it('stops listening on close', async () => {
    const workbench = await startWorkbench({ gatewayUrl: GATEWAY, port: 0, distDir });
    await workbench.close();
    await expect(fetch(`${workbench.url}/`)).rejects.toThrow();
  });
});

describe('the dev token endpoint', () => {
  const mint = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('does not exist unless the stack asks for it', async () => {
    const { url } = await start();
    expect((await mint(url, { tenant: 'acme', scopes: ['coherence:read:self'], residency: ['us'] })).status).toBe(404);
    expect((await fetch(`${url}/dev/tenants`)).status).toBe(404);
  });

  it('mints a token the dev key verifies, with the tenant, scopes and residency asked for', async () => {
    const { url } = await start({ devTokens: devTokens() });
    expect(await (await fetch(`${url}/dev/tenants`)).json()).toEqual({ tenants: ['acme', 'globex', 'initech'] });
    expect(await (await fetch(`${url}/config.json`)).json()).toMatchObject({ devSignIn: true });
    const response = await mint(
      url,
      { tenant: 'globex', scopes: ['coherence:read:self', 'comms:operate'], residency: ['us', 'eu'] },
      { origin: url },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const { token } = (await response.json()) as { token: string };
    const keys = await ensureDevKeys(keysDir);
    const verify = await createTokenVerifier({ jwks: keys.jwksPath, issuers: [DEV_ISSUER] });
    const verified = await verify(token);
    expect(verified).toMatchObject({
      ok: true,
      principal: { tenantId: 'globex', scopes: ['coherence:read:self', 'comms:operate'], residency: ['us', 'eu'] },
    });
  });

  it('refuses another origin, break glass, unknown scopes and malformed requests', async () => {
    const { url } = await start({ devTokens: devTokens() });
    const good = { tenant: 'acme', scopes: ['coherence:read:self'], residency: ['us'] };
    const crossSite = await mint(url, good, { origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    expect(await crossSite.json()).toMatchObject({ code: 'ORIGIN_NOT_ALLOWED' });
    expect((await mint(url, { ...good, scopes: ['platform:break-glass'] })).status).toBe(400);
    expect((await mint(url, { ...good, scopes: ['root'] })).status).toBe(400);
    expect((await mint(url, { ...good, tenant: 'a/b' })).status).toBe(400);
    expect((await mint(url, { ...good, extra: true })).status).toBe(400);
    const text = await fetch(`${url}/dev/token`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(good) });
    // What a cross-site form could send (no preflight): a string, not the JSON object.
    expect(text.status).toBe(400);
  });

  it('refuses to start with dev tokens in production or on a non-loopback address', async () => {
    await expect(startWorkbench({ gatewayUrl: GATEWAY, port: 0, distDir, host: '0.0.0.0', devTokens: devTokens() })).rejects.toThrow(
      'loopback address only',
    );
    vi.stubEnv('NODE_ENV', 'production');
    await expect(startWorkbench({ gatewayUrl: GATEWAY, port: 0, distDir, devTokens: devTokens() })).rejects.toThrow('NODE_ENV=production');
  });
});
