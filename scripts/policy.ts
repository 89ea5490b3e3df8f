/**
 * Compiles policy/src to the Wasm bundle the gateway runs, or checks that the
 * committed bundle is what the sources compile to.
 *
 *   npm run policy:build   rebuild policy/bundle/
 *   npm run policy:check   rebuild into a temp dir and fail on any difference
 *
 * `opa build` puts policy.wasm, data.json and a .manifest in a tar.gz; the
 * bundle folder keeps the first two as they are (they are byte-reproducible
 * for one OPA version) plus our manifest.json (version, sha256, entrypoint,
 * OPA version). The tar itself is not committed (docs/adr/0002-gateway-security.md).
 */
import { policyBundleFiles, policyBundleSha256, POLICY_ENTRYPOINT, type PolicyBundleManifest } from '@coherence/gateway/policy';
import { ensureOpa, pinnedOpaVersion } from '@coherence/testkit/opa';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '..');
const policyDir = join(repoRoot, 'policy');
const bundleDir = join(policyDir, 'bundle');

const command = process.argv[2];
if (command !== 'build' && command !== 'check') {
  console.error('usage: tsx scripts/policy.ts build|check');
  process.exit(2);
}

/** The bundle's files, compiled from policy/src into memory. */
async function compile(): Promise<Record<string, Buffer>> {
  const opa = await ensureOpa();
  const work = mkdtempSync(join(tmpdir(), 'coherence-policy-'));
  try {
    // Relative paths and a fixed cwd: the source path is recorded inside the tar.
    await run(opa, ['build', '-t', 'wasm', '-e', POLICY_ENTRYPOINT, 'src/authz.rego', '-o', join(work, 'bundle.tar.gz')], {
      cwd: policyDir,
    });
    await run('tar', ['-xzf', join(work, 'bundle.tar.gz'), '-C', work, '/policy.wasm', '/data.json']);
    const wasm = readFileSync(join(work, 'policy.wasm'));
    const data = readFileSync(join(work, 'data.json'));
    const manifest: PolicyBundleManifest = {
      version: readFileSync(join(policyDir, 'VERSION'), 'utf8').trim(),
      sha256: policyBundleSha256(wasm, data),
      entrypoint: POLICY_ENTRYPOINT,
      opaVersion: pinnedOpaVersion,
    };
    return {
      [policyBundleFiles.wasm]: wasm,
      [policyBundleFiles.data]: data,
      [policyBundleFiles.manifest]: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const compiled = await compile();
if (command === 'build') {
  mkdirSync(bundleDir, { recursive: true });
  for (const [name, content] of Object.entries(compiled)) writeFileSync(join(bundleDir, name), content);
  console.log(`policy bundle written to ${bundleDir}`);
} else {
  const drifted = Object.entries(compiled).filter(([name, content]) => {
    try {
      return !readFileSync(join(bundleDir, name)).equals(content);
    } catch {
      return true;
    }
  });
  if (drifted.length > 0) {
    console.error(`policy bundle drift in ${drifted.map(([name]) => `policy/bundle/${name}`).join(', ')}: run npm run policy:build`);
    process.exit(1);
  }
  console.log('policy bundle is up to date');
}
