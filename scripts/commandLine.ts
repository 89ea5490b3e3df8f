/**
 * Command lines of the operator commands, benches and drills, parsed the same
 * way everywhere: `-h`/`--help` prints the usage to stdout and exits 0; an
 * unknown option, a missing value or a value the script refuses prints the
 * problem and the usage to stderr and exits 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Prints `problem` (if any) and the usage to stderr and exits 2. */
export function usageError(usage: string, problem?: string): never {
  console.error(problem === undefined ? usage : `${problem}\n\n${usage}`);
  process.exit(2);
}

/** `parseArgs` with `--help` added; returns values and positionals unless help was asked for. */
export function parseCommandLine<const T extends ParseArgsConfig>(usage: string, config: T) {
  let parsed;
  try {
    parsed = parseArgs({ ...config, options: { ...config.options, help: { type: 'boolean', short: 'h' } } });
  } catch (error) {
    return usageError(usage, error instanceof Error ? error.message : String(error));
  }
  // The help option is added above, so it is there whatever `config` declares.
  const values: { help?: unknown } = parsed.values;
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed;
}

/** For scripts without positionals: the parsed option values. */
export function parseScriptArgs<const T extends Options>(usage: string, options: T) {
  return parseCommandLine(usage, { options }).values;
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
