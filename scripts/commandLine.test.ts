import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The operator commands' command lines, as a user meets them (each its own process; nothing connects anywhere). */
const repoRoot = resolve(import.meta.dirname, '..');

function run(script: string, ...args: string[]) {
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', script), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    // Nowhere to connect: a command that got past its usage checks fails fast instead of waiting.
    env: { ...process.env, REBUILD_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', NEO4J_URL: 'bolt://127.0.0.1:1' },
  });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

// Each case starts a process that loads tsx and a workspace package: seconds on a busy machine.
describe('operator command lines', { timeout: 30_000 }, () => {
  it.each([
    ['graph.ts', 'rebuild', '--help'],
    ['outbox.ts', '-h'],
    ['backup.ts', 'backup', '--help'],
    ['backup.ts', 'restore', '-h'],
  ])('%s %s %s prints its usage and exits 0', (script, ...args) => {
    const { status, stdout } = run(script, ...args);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^usage: npm run /);
  });

  it.each([
    ['graph.ts', ['rebuild', '--colour'], /Unknown option '--colour'/],
    ['graph.ts', ['rebuild', '--tenant', 'no spaces'], /INVALID_TENANT_ID/],
    ['graph.ts', ['rebuild', 'extra'], /the one command is: rebuild/],
    ['outbox.ts', ['retry', 'x1'], /"x1" is not an outbox id/],
    ['backup.ts', ['backup'], /missing --dir/],
    ['backup.ts', ['restore', '--from', '/b', '--to', '2026-11-26T10:00:00', '--data-dir', '/d'], /INVALID_TIME/],
    ['backup.ts', ['vacuum'], /the commands are backup and restore/],
  ])('%s %j is a usage error (exit 2) naming the problem, with the usage', (script, args, problem) => {
    const { status, stderr } = run(script, ...args);
    expect(status).toBe(2);
    expect(stderr).toMatch(problem);
    expect(stderr).toContain('usage: npm run ');
  });
});
