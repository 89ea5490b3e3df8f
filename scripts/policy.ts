/**
 * Compiles the Rego sources to the Wasm bundles that run in-process, or
 * checks that the committed bundles are what the sources compile to:
 *
 *   policy/src        -> policy/bundle        the gateway's authorization
 *   policy/comms/src  -> policy/comms/bundle  comms' quiet hours
 *
 *   npm run policy:build   rebuild both bundle folders
 *   npm run policy:check   rebuild into a temp dir and fail on any difference
 *
 * `opa build` puts policy.wasm, data.json and a .manifest in a tar.gz; the
 * bundle folder keeps the first two as they are (they are byte-reproducible
 * for one OPA version) plus our manifest.json (version, sha256, entrypoint,
 * OPA version). The tar itself is not committed (docs/adr/0002-gateway-security.md).
 */
import { COMMS_POLICY_ENTRYPOINT, commsPolicyDir } from '@coherence/comms/quietHours';
import { policyBundleFiles, policyBundleSha256, POLICY_ENTRYPOINT, type PolicyBundleManifest } from '@coherence/policy';
import { ensureOpa, pinnedOpaVersion } from '@coherence/testkit/opa';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '..');

/** One Rego package compiled to one bundle folder; `dir` holds src/, VERSION and bundle/. */
interface BundleSource {
  dir: string;
  source: string;
  entrypoint: string;
}

const bundles: BundleSource[] = [
  { dir: join(repoRoot, 'policy'), source: 'src/authz.rego', entrypoint: POLICY_ENTRYPOINT },
  { dir: commsPolicyDir, source: 'src/quiet_hours.rego', entrypoint: COMMS_POLICY_ENTRYPOINT },
];

const command = process.argv[2];
if (command !== 'build' && command !== 'check') {
  console.error(
    'usage: tsx scripts/policy.ts build|check\n  build  compile every policy bundle\n  check  fail if a committed bundle differs from its sources',
  );
  process.exit(command === '--help' || command === '-h' ? 0 : 2);
}

/** A bundle's files, compiled from its Rego source into memory. */
async function compile({ dir: policyDir, source, entrypoint }: BundleSource): Promise<Record<string, Buffer>> {
  const opa = await ensureOpa();
  const work = mkdtempSync(join(tmpdir(), 'coherence-policy-'));
  try {
    // Relative paths and a fixed cwd: the source path is recorded inside the tar.
    await run(opa, ['build', '-t', 'wasm', '-e', entrypoint, source, '-o', join(work, 'bundle.tar.gz')], {
      cwd: policyDir,
    });
    await run('tar', ['-xzf', join(work, 'bundle.tar.gz'), '-C', work, '/policy.wasm', '/data.json']);
    const wasm = readFileSync(join(work, 'policy.wasm'));
    const data = readFileSync(join(work, 'data.json'));
    // The comms manifest has the same shape; only its entrypoint differs.
    const manifest: Omit<PolicyBundleManifest, 'entrypoint'> & { entrypoint: string } = {
      version: readFileSync(join(policyDir, 'VERSION'), 'utf8').trim(),
      sha256: policyBundleSha256(wasm, data),
      entrypoint,
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

const drifted: string[] = [];
for (const bundle of bundles) {
  const compiled = await compile(bundle);
  const bundleDir = join(bundle.dir, 'bundle');
  if (command === 'build') {
    mkdirSync(bundleDir, { recursive: true });
    for (const [name, content] of Object.entries(compiled)) writeFileSync(join(bundleDir, name), content);
    console.log(`policy bundle written to ${relative(repoRoot, bundleDir)}`);
    continue;
  }
  for (const [name, content] of Object.entries(compiled)) {
    const same = (() => {
      try {
        return readFileSync(join(bundleDir, name)).equals(content);
      } catch {
        return false;
      }
    })();
    if (!same) drifted.push(relative(repoRoot, join(bundleDir, name)));
  }
}
if (drifted.length > 0) {
  console.error(`policy bundle drift in ${drifted.join(', ')}: run npm run policy:build`);
  process.exit(1);
}
if (command === 'check') console.log('policy bundles are up to date');
