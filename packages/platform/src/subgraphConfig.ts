import { internalKeyTrustCheck } from '@coherence/auth';
import { z } from 'zod';
import { configFields } from './loadConfig';

/** The settings every subgraph process reads, beside its own (docs/adr/0011-signed-subgraph-calls.md). */
export const subgraphConfigFields = {
  /** The gateway's public keys its internal tokens are verified against: a JWKS file (current and, while rotating, previous key). */
  SUBGRAPH_INTERNAL_JWKS: z.string().min(1),
  /** Most entity representations one `_entities` call may ask for; more is TOO_MANY_REPRESENTATIONS. Default 100. */
  SUBGRAPH_MAX_REPRESENTATIONS: configFields.positiveInt(100),
  /** `production` refuses the dev internal key set at start. */
  NODE_ENV: z.string().optional(),
};

export type SubgraphConfig = z.output<z.ZodObject<typeof subgraphConfigFields>>;

/** A refinement for a subgraph's config schema (`.superRefine(...)`): the key set's source, and no dev keys in production. */
export const subgraphConfigCheck = internalKeyTrustCheck('SUBGRAPH_INTERNAL_JWKS', 'jwks');
