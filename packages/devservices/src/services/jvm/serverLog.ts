import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ServiceStartError } from '../managedProcess';

/**
 * Size of `file` now (0 if it does not exist yet). Server logs are appended
 * to across runs, so callers remember this before a start and only look at
 * what came after it.
 */
export function logSizeBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** What was appended to `file` after `offsetBytes` ('' if nothing or no file). */
export async function readLogSince(file: string, offsetBytes: number): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    if (size <= offsetBytes) return '';
    const buffer = Buffer.alloc(size - offsetBytes);
    await handle.read(buffer, 0, buffer.length, offsetBytes);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * A JVM that dies prints its root cause far above the last lines that
 * ServiceStartError quotes (shutdown chatter comes after it). This returns
 * `error` with the first line of this run matching `pattern` (and the line
 * after it, usually the exception and its message) added to the reason, so
 * the cause is in the error itself. Anything else is returned unchanged.
 */
export async function withCauseFromLog(error: unknown, logFile: string, offsetBytes: number, pattern: RegExp): Promise<unknown> {
  if (!(error instanceof ServiceStartError)) return error;
  const lines = (await readLogSince(logFile, offsetBytes)).split('\n');
  const index = lines.findIndex((line) => pattern.test(line));
  if (index < 0) return error;
  const cause = lines
    .slice(index, index + 2)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' / ')
    // ServiceStartError puts a full stop after the reason.
    .replace(/\.+$/, '');
  const [firstLine] = error.message.split('\n');
  const reason = firstLine?.match(/did not come up: (.*)\. See its log: /)?.[1];
  if (reason === undefined) return error;
  return new ServiceStartError(error.service, error.logFile, `${reason}; first error: ${cause}`);
}

/** Runs a short-lived command with its output appended to `logFile`; resolves with its exit code. */
export function runToLog(command: string, args: readonly string[], logFile: string): Promise<number | null> {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { stdio: ['ignore', fd, fd] });
    return new Promise((resolvePromise, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => resolvePromise(code));
    });
  } finally {
    closeSync(fd);
  }
}
