/**
 * Arguments of the bench and drill scripts, parsed the same way everywhere:
 * `--help`/`-h` prints the script's usage to stdout and exits 0, a value the
 * script refuses prints it to stderr and exits 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

const helpOption = { help: { type: 'boolean', short: 'h' } } as const;

/** The script's options plus `--help`; returns the parsed values unless help was asked for. */
export function parseScriptArgs<const T extends Options>(usage: string, options: T) {
  const { values } = parseArgs({ options: { ...options, ...helpOption } });
  // Inside this generic function TypeScript cannot see `help` among the parsed values; it is there.
  if ((values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return values;
}

/** For a value the script cannot run with. */
export function exitWithUsage(usage: string): never {
  console.error(usage);
  process.exit(2);
}

/**
 * For scripts whose options are all numbers: name → default, given as `--name N`.
 * A value that is not a number comes back as NaN, for the script's own check.
 */
export function parseNumberArgs<const K extends string>(usage: string, defaults: Record<K, number>): Record<K, number> {
  const names = Object.keys(defaults) as K[];
  const options = Object.fromEntries(names.map((name) => [name, { type: 'string' as const, default: String(defaults[name]) }]));
  const values = parseScriptArgs(usage, options) as Record<string, string>;
  return Object.fromEntries(names.map((name) => [name, Number(values[name])])) as Record<K, number>;
}
