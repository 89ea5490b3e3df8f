import type { PgPool, SubgraphContext } from '@coherence/platform';
import { readCoherenceScore } from './readModel';

export type CoherenceContext = SubgraphContext & { pool: PgPool; windowIso: string };

export const coherenceResolvers = {
  Query: {
    tenantCoherence: (_root: unknown, args: { tenantId: string }, context: CoherenceContext) =>
      readCoherenceScore(context.pool, args.tenantId, context.windowIso),
  },
  CoherenceScore: {
    __resolveReference: (reference: { tenantId: string }, context: CoherenceContext) =>
      readCoherenceScore(context.pool, reference.tenantId, context.windowIso),
  },
};
