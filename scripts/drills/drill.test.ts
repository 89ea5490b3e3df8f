import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scenarios } from './scenarios';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const drill = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'scripts/drills/drill.ts', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 90_000,
  });

// Only what the command decides before it starts anything; the drills themselves run in e2e/drills.e2e.ts.
describe('npm run drill', () => {
  it('lists every registered scenario with its summary in --help', () => {
    const result = drill('--help');
    expect(result.status).toBe(0);
    const lines = result.stdout.split('\n');
    for (const scenario of scenarios) {
      const line = lines.find((candidate) => candidate.startsWith(`  ${scenario.name} `));
      expect(line).toContain(scenario.summary);
    }
  }, 120_000);

  it('refuses, before starting anything, an unknown scenario and one that cannot run against the dev stack', () => {
    const unknown = drill('no-such-drill');
    expect({ status: unknown.status, stderr: unknown.stderr.split('\n')[0] }).toEqual({
      status: 2,
      stderr: 'unknown scenario no-such-drill',
    });
    const attached = drill('kill-process', '--attach');
    expect(attached.status).toBe(2);
    expect(attached.stderr.split('\n')[0]).toContain('kill-process cannot run with --attach');
    expect(attached.stdout).toBe('');
  }, 180_000);
});
