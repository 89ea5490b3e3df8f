import { createTokenVerifier, DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, DEV_ISSUER, ensureDevKeys } from '@coherence/auth';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** `npm run token` as a user runs it (its own process), signing with a throw-away key pair. */
const repoRoot = resolve(import.meta.dirname, '..');
const keysDir = join(mkdtempSync(join(tmpdir(), 'coherence-dev-token-')), 'keys');

afterAll(() => rmSync(resolve(keysDir, '..'), { recursive: true, force: true }));

function token(...args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/dev-token.ts'), '--keys', keysDir, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout.trim(), stderr: run.stderr };
}

async function scopesOf(jwt: string): Promise<string[]> {
  const verify = await createTokenVerifier({ jwks: (await ensureDevKeys(keysDir)).jwksPath, issuers: [DEV_ISSUER] });
  const result = await verify(jwt);
  if (!result.ok) throw new Error(`the minted token does not verify: ${result.code}`);
  return result.principal.scopes;
}

// Each case starts a process that loads tsx and the auth package: seconds on a busy machine.
describe('npm run token', { timeout: 30_000 }, () => {
  it('takes scopes space-separated, as the claim writes them', async () => {
    const run = token('--tenant', 'acme', '--scope', 'coherence:write:self coherence:read:self');
    expect(run).toMatchObject({ status: 0 });
    expect(await scopesOf(run.stdout)).toEqual(['coherence:write:self', 'coherence:read:self']);
  });

  it('takes --scope repeated, and mixed with the space-separated form, once each', async () => {
    const run = token('--tenant', 'acme', '--scope', 'comms:operate', '--scope', ' coherence:read  comms:operate ');
    expect(run).toMatchObject({ status: 0 });
    expect(await scopesOf(run.stdout)).toEqual(['comms:operate', 'coherence:read']);
  });

  it('defaults to coherence:read:self', async () => {
    const run = token('--tenant', 'acme');
    expect(run).toMatchObject({ status: 0 });
    expect(await scopesOf(run.stdout)).toEqual(['coherence:read:self']);
  });

  it('refuses an unknown scope inside a space-separated list with exit code 2', () => {
    const run = token('--tenant', 'acme', '--scope', 'coherence:read:self coherence:admin');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('unknown scope coherence:admin');
    expect(run.stdout).toBe('');
  });

  it('refuses a --ttl longer than the services accept (exit 2), and mints one of exactly that long', async () => {
    const tooLong = token('--tenant', 'acme', '--ttl', String(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS + 1));
    expect(tooLong.status).toBe(2);
    expect(tooLong.stderr).toContain('--ttl');
    const longest = token('--tenant', 'acme', '--ttl', String(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS));
    expect(longest.status).toBe(0);
    expect(await scopesOf(longest.stdout)).toEqual(['coherence:read:self']);
  });
});
