import fc from 'fast-check';
import type { FuzzParameters } from './fuzzConfig';

/**
 * fc.assert with a report a person can read and replay: the seed and path,
 * the command that replays them, the counterexample with long strings, long
 * arrays and byte buffers cut short (a 60 KB header would otherwise fill the
 * screen), and the failed assertion as the cause.
 */
export async function assertProperty<T>(
  target: string,
  property: fc.IAsyncPropertyWithHooks<T>,
  parameters: FuzzParameters,
): Promise<void> {
  const details = await fc.check(property, parameters);
  if (!details.failed) return;
  const cause = details.errorInstance;
  const replay = `npm run fuzz -- --target ${target} --seed ${details.seed}${details.counterexamplePath ? ` --path ${details.counterexamplePath}` : ''}`;
  throw new Error(
    [
      `Property failed after ${details.numRuns} tests`,
      `{ seed: ${details.seed}, path: "${details.counterexamplePath ?? ''}" }`,
      `Replay: ${replay}`,
      `Counterexample: ${details.counterexample === null ? '(none)' : fc.stringify(shorten(details.counterexample))}`,
      `Shrunk ${details.numShrinks} time(s)`,
      `Failure: ${cause instanceof Error ? cause.message : String(cause)}`,
    ].join('\n'),
    { cause },
  );
}

const MAX_STRING = 160;
const MAX_ITEMS = 12;
const MAX_BYTES = 48;

/** The value as fc.stringify would print it, with what is long cut short (and marked so). */
function shorten(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.length <= MAX_STRING ? value : new Shortened(`${JSON.stringify(value.slice(0, MAX_STRING))}… (${value.length} chars)`);
  }
  if (value instanceof Uint8Array) {
    const hex = Buffer.from(value.subarray(0, MAX_BYTES)).toString('hex');
    return new Shortened(
      `bytes 0x${hex}${value.length > MAX_BYTES ? `… (${value.length} bytes)` : ''} ${JSON.stringify(Buffer.from(value.subarray(0, MAX_BYTES)).toString('latin1'))}`,
    );
  }
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map(shorten);
    return value.length <= MAX_ITEMS ? items : [...items, new Shortened(`… ${value.length - MAX_ITEMS} more`)];
  }
  const prototype: unknown = value !== null && typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
  if (prototype === Object.prototype || prototype === null) {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value as object)) {
      Object.defineProperty(out, String(shorten(key) instanceof Shortened ? `${key.slice(0, MAX_STRING)}…` : key), {
        value: shorten(inner),
        enumerable: true,
      });
    }
    return out;
  }
  return value;
}

class Shortened {
  constructor(private readonly text: string) {}
  [fc.toStringMethod](): string {
    return this.text;
  }
}
