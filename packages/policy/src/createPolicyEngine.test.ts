import { createLogger } from '@coherence/platform';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PolicyInput } from './buildPolicyInput';
import { createPolicyEngine } from './createPolicyEngine';
import { policyBundleDir, policyBundleFiles } from './loadPolicyBundle';

const work = mkdtempSync(join(tmpdir(), 'coherence-bundles-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let copies = 0;

/** A copy of the committed bundle, changed by `tamper`. */
function bundleCopy(tamper: (dir: string) => void = () => undefined): string {
  copies += 1;
  const dir = join(work, `bundle-${copies}`);
  cpSync(policyBundleDir, dir, { recursive: true });
  tamper(dir);
  return dir;
}

const allowedInput: PolicyInput = {
  principal: { subject: 'u', tenant: 'acme', scopes: ['coherence:read:self'], residency: ['us'] },
  operation: { id: 'op', type: 'query', rootFields: ['tenantCoherence'] },
  tenantIds: ['acme'],
  tenantResidency: { acme: 'us' },
  region: 'us',
  pausedScopes: [],
};

const logger = createLogger('test', 'silent');

describe('createPolicyEngine', () => {
  it('fails closed while no bundle is active', () => {
    const engine = createPolicyEngine(logger);
    expect(engine.decide(allowedInput)).toEqual({
      allow: false,
      reasonCode: 'NO_ACTIVE_BUNDLE',
      explanation: 'no policy bundle is active',
      bundleSha256: null,
    });
  });

  it('decides with the active bundle and names it', async () => {
    const engine = createPolicyEngine(logger);
    const activated = await engine.activate(bundleCopy());
    const manifest = JSON.parse(readFileSync(join(policyBundleDir, policyBundleFiles.manifest), 'utf8')) as { sha256: string };
    expect(activated).toEqual({ ok: true, version: expect.any(String), sha256: manifest.sha256 });
    expect(engine.decide(allowedInput)).toMatchObject({ allow: true, reasonCode: 'ALLOWED', bundleSha256: manifest.sha256 });
  });

  it.each([
    [
      'a Wasm module that does not match the manifest sha256',
      (dir: string) => writeFileSync(join(dir, policyBundleFiles.wasm), Buffer.from('not wasm')),
      /sha256 mismatch/,
    ],
    ['a manifest that does not parse', (dir: string) => writeFileSync(join(dir, policyBundleFiles.manifest), '{"version":'), /JSON/],
    ['a missing Wasm module', (dir: string) => rmSync(join(dir, policyBundleFiles.wasm)), /ENOENT/],
  ])('refuses %s and keeps the previous bundle active', async (_name, tamper, problem) => {
    const engine = createPolicyEngine(logger);
    const first = await engine.activate(bundleCopy());
    const refused = await engine.activate(bundleCopy(tamper));
    expect(refused).toEqual({ ok: false, error: expect.stringMatching(problem) });
    expect(engine.activeBundle()).toEqual({ version: expect.any(String), sha256: first.ok ? first.sha256 : '' });
    expect(engine.decide(allowedInput).allow).toBe(true);
  });

  it('refuses a bad first bundle and stays closed', async () => {
    const engine = createPolicyEngine(logger);
    await engine.activate(bundleCopy((dir) => rmSync(join(dir, policyBundleFiles.data))));
    expect(engine.activeBundle()).toBeUndefined();
    expect(engine.decide(allowedInput).reasonCode).toBe('NO_ACTIVE_BUNDLE');
  });
});
