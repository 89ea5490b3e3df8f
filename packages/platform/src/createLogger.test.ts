import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const directory = mkdtempSync(join(tmpdir(), 'coherence-logger-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** Runs the fixture with its stdout appended to a file, as the process supervisors and the tests' spawns do. */
function logThenExit(run: number): string[] {
  const logFile = join(directory, `run-${run}.log`);
  const fd = openSync(logFile, 'a');
  try {
    const result = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '__fixtures__', 'logThenExit.ts')], {
      stdio: ['ignore', fd, 'pipe'],
      timeout: 30_000,
    });
    expect(result.status, result.stderr.toString()).toBe(0);
  } finally {
    closeSync(fd);
  }
  return readFileSync(logFile, 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
}

describe('closeLogger', () => {
  // Without it, most runs end "…, next to last, last, line": the exit hook's synchronous flush overtakes the write
  // still in flight. Several runs, because the race is one of timing.
  it('writes every line, in order, before the process exits', () => {
    const expected = [...Array.from({ length: 50 }, () => 'line'), 'next to last', 'last'];
    for (let run = 0; run < 5; run += 1) expect({ run, messages: logThenExit(run) }).toEqual({ run, messages: expected });
  }, 120_000);
});
