import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Prints `problem` and the help to stderr and exits 2, the usage-error status of every command here. */
export function usageError(help: string, problem: string): never {
  console.error(`${problem}\n\n${help}`);
  process.exit(2);
}

/**
 * `parseArgs` the way the operator commands answer: `-h`/`--help` prints the
 * help and exits 0; an unknown option or a missing value exits 2 naming it,
 * with the help.
 */
export function parseCommandLine<const T extends ParseArgsConfig>(help: string, config: T) {
  let parsed;
  try {
    parsed = parseArgs({ ...config, options: { ...config.options, help: { type: 'boolean', short: 'h' } } });
  } catch (error) {
    return usageError(help, error instanceof Error ? error.message : String(error));
  }
  // The help option is added above, so it is there whatever `config` declares.
  const values: { help?: unknown } = parsed.values;
  if (values.help) {
    console.log(help);
    process.exit(0);
  }
  return parsed;
}
