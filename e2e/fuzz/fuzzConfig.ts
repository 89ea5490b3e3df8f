import { z } from 'zod';

/**
 * How many cases each fuzz target runs and from which seed, read once from
 * the environment (`npm run fuzz` sets it; the test command does not).
 *
 * The default seed is fixed per target so that CI runs the same cases every
 * time and a red build can be replayed as is; `FUZZ_SEED` replaces it for
 * every target (a longer hunt with a random seed, or the replay of a seed a
 * failure printed), and `FUZZ_PATH` replays fast-check's shrink path.
 */
const schema = z.object({
  /** Cases per target; default: each target's own bounded count. */
  FUZZ_RUNS: z.coerce.number().int().positive().optional(),
  /** fast-check seed (a 32-bit integer) for every target; default: each target's fixed seed. */
  FUZZ_SEED: z.coerce.number().int().optional(),
  /** fast-check `path` of a failure, to replay exactly that counterexample (with its seed). */
  FUZZ_PATH: z
    .string()
    .regex(/^\d+(:\d+)*$/)
    .optional(),
});

const parsed = schema.safeParse({
  FUZZ_RUNS: process.env['FUZZ_RUNS'] || undefined,
  FUZZ_SEED: process.env['FUZZ_SEED'] || undefined,
  FUZZ_PATH: process.env['FUZZ_PATH'] || undefined,
});
if (!parsed.success) {
  throw new Error(`fuzz configuration: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
}

export const fuzzEnvironment = Object.freeze(parsed.data);

export interface FuzzTarget {
  /** Short name printed with the seed, e.g. `ingest-http`. */
  name: string;
  /** Cases the test command runs. */
  defaultRuns: number;
  /** The fixed seed the test command uses. */
  defaultSeed: number;
}

export interface FuzzParameters {
  numRuns: number;
  seed: number;
  path?: string;
}

/** The fast-check parameters of `target`, announced on stderr so that every run can be replayed. */
export function fuzzParameters(target: FuzzTarget): FuzzParameters {
  const numRuns = fuzzEnvironment.FUZZ_RUNS ?? target.defaultRuns;
  const seed = fuzzEnvironment.FUZZ_SEED ?? target.defaultSeed;
  const path = fuzzEnvironment.FUZZ_PATH;
  process.stderr.write(
    `[fuzz] ${target.name}: ${numRuns} cases, seed ${seed}${path ? `, path ${path}` : ''}` +
      ` (replay: npm run fuzz -- --target ${target.name} --seed ${seed} --runs ${numRuns})\n`,
  );
  return { numRuns, seed, ...(path ? { path } : {}) };
}

/** A generous per-test timeout for `numRuns` cases of about `msPerCase` each (shrinking included). */
export function fuzzTimeoutMs(parameters: FuzzParameters, msPerCase: number): number {
  return 120_000 + parameters.numRuns * msPerCase * 3;
}
