import { devArtifactPublicKeyPath, readArtifactPublicKey, signArtifact } from '@coherence/auth';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { localMinute } from './createQuietHoursGate';
import { COMMS_POLICY_ENTRYPOINT, commsPolicyBundleDir, loadQuietHoursPolicy } from './loadQuietHoursPolicy';

// The committed Wasm (policy/comms/bundle), not the Rego: what the worker runs.
const publicKey = readArtifactPublicKey(devArtifactPublicKeyPath);
const policy = await loadQuietHoursPolicy(publicKey);
const night = { startMinute: 22 * 60, endMinute: 7 * 60 };

it('defers inside a window across midnight until it ends', () => {
  expect(policy.evaluate({ localMinute: 23 * 60, quietHours: night })).toMatchObject({
    allow: false,
    reasonCode: 'QUIET_HOURS',
    deferMinutes: 8 * 60,
  });
  expect(policy.evaluate({ localMinute: 6 * 60 + 59, quietHours: night })).toMatchObject({ allow: false, deferMinutes: 1 });
});

it('allows outside the window and without quiet hours', () => {
  expect(policy.evaluate({ localMinute: 7 * 60, quietHours: night })).toMatchObject({ allow: true, reasonCode: 'ALLOWED' });
  expect(policy.evaluate({ localMinute: 3 * 60, quietHours: null })).toMatchObject({ allow: true });
});

it('denies malformed input', () => {
  expect(policy.evaluate({ localMinute: 2_000, quietHours: night })).toMatchObject({ allow: false, reasonCode: 'POLICY_ERROR' });
});

it('reads the local minute in the tenant time zone', () => {
  const at = new Date('2026-01-15T12:30:00Z');
  expect(localMinute(at, 'UTC')).toBe(12 * 60 + 30);
  expect(localMinute(at, 'Asia/Tokyo')).toBe(21 * 60 + 30);
  expect(localMinute(at, 'America/New_York')).toBe(7 * 60 + 30);
});

const work = mkdtempSync(join(tmpdir(), 'quiet-hours-bundle-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it.each([
  ['unsigned', (dir: string) => rmSync(join(dir, '.signatures.json')), /not signed/],
  ['changed after signing', (dir: string) => writeFileSync(join(dir, 'data.json'), '{"quiet":false}'), /data\.json hashes to/],
  [
    'signed by another key',
    async (dir: string) => {
      const files = new Map(['manifest.json', 'policy.wasm', 'data.json'].map((name) => [name, readFileSync(join(dir, name))]));
      const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      writeFileSync(join(dir, '.signatures.json'), await signArtifact(files, otherKey, COMMS_POLICY_ENTRYPOINT));
    },
    /does not verify under the pinned key/,
  ],
])('refuses a bundle %s', async (name, tamper, problem) => {
  const dir = join(work, name.replaceAll(' ', '-'));
  cpSync(commsPolicyBundleDir, dir, { recursive: true });
  await tamper(dir);
  await expect(loadQuietHoursPolicy(publicKey, dir)).rejects.toThrow(problem);
});
