import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '..');

/** The command line of a running process, or undefined once it has exited. */
function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return undefined;
  }
}

describe('bash scripts/stack.sh', () => {
  // The whole stack is too heavy for a unit test; what makes a signal to the
  // script's pid stop everything is that this pid becomes the stack process
  // itself (node, which stops its servers on SIGINT/SIGTERM), with no npx or
  // tsx launcher in between that would take the signal and leave it orphaned.
  it('becomes node running scripts/stack.ts under the pid it was started with', async () => {
    const child = spawn('bash', ['scripts/stack.sh', '--help'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));

    const seen = new Set<string>();
    let running = true;
    void exited.then(() => (running = false));
    while (running) {
      const argv = commandLine(child.pid!);
      if (argv !== undefined) seen.add(JSON.stringify(argv));
      await sleep(20);
    }

    expect(await exited).toBe(0);
    expect(stdout).toContain('usage: npm run stack');
    const asStack = [...seen].map((line) => JSON.parse(line) as string[]).filter((argv) => argv.includes('scripts/stack.ts'));
    expect(asStack.length).toBeGreaterThan(0);
    for (const argv of asStack) {
      expect(basename(argv[0]!)).toBe('node');
      expect(argv.slice(1)).toEqual(['--import', 'tsx', 'scripts/stack.ts', '--help']);
    }
    // Loading the stack's imports takes seconds, many more on a busy machine.
  }, 60_000);

  it('refuses an instance count it cannot lay out on its ports, before starting anything', () => {
    for (const count of ['0', '4', 'two']) {
      const result = spawnSync('bash', ['scripts/stack.sh', '--instances', count], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
      expect({ count, status: result.status, stderr: result.stderr.trim() }).toEqual({
        count,
        status: 2,
        stderr: `[stack] --instances must be a whole number from 1 to 3, not ${count}`,
      });
    }
  }, 120_000);
});
