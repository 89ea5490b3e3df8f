import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Runs the fixture, sends it SIGTERM once it is ready, and returns its exit code, its log messages and its stderr. */
async function shutDown(stepMs: number, timeoutMs: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, '__fixtures__', 'shutdownSteps.ts'), String(stepMs), String(timeoutMs)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.includes('ready\n') && !child.killed) child.kill('SIGTERM');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const messages = stdout
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
  return { code, messages, stderr: stderr.replace('ready\n', '') };
}

describe('onShutdown', () => {
  it('runs the steps, logs each, and exits 0', async () => {
    expect(await shutDown(50, 10_000)).toEqual({
      code: 0,
      messages: ['shutting down', 'shutdown step done', 'stopped'],
      stderr: '',
    });
  }, 30_000);

  it('exits 1 once the steps outlive the timeout', async () => {
    expect(await shutDown(1_500, 300)).toEqual({ code: 1, messages: ['shutting down', 'shutdown timed out'], stderr: '' });
  }, 30_000);

  // The step ends in the same turn as the timeout, once the timeout has begun closing the log: the step must neither
  // write to the closing log nor exit 0 over the timeout's exit 1. Several runs, because it is a race.
  it('keeps the timeout’s exit when the last step ends as the log closes', async () => {
    for (let run = 0; run < 3; run += 1)
      expect({ run, ...(await shutDown(300, 300)) }).toEqual({
        run,
        code: 1,
        messages: ['shutting down', 'shutdown timed out'],
        stderr: '',
      });
  }, 60_000);
});
