import type { PgPool, SubgraphContext } from '@coherence/platform';
import { resolveSignals, type SignalsContext } from '../signals/resolvers';
import { readCoherenceScore } from './readModel';

export type CoherenceContext = SubgraphContext &
  SignalsContext & {
    pool: PgPool;
    /** Where this request's read-model reads go: the hinted region's replica, or the primary (`pool`). */
    readPool: PgPool;
    windowIso: string;
  };

export const coherenceResolvers = {
  Query: {
    tenantCoherence: (_root: unknown, args: { tenantId: string }, context: CoherenceContext) =>
      readCoherenceScore(context.readPool, args.tenantId, context.windowIso),
    signals: (_root: unknown, args: Parameters<typeof resolveSignals>[0], context: CoherenceContext) => resolveSignals(args, context),
  },
  CoherenceScore: {
    __resolveReference: (reference: { tenantId: string }, context: CoherenceContext) =>
      readCoherenceScore(context.readPool, reference.tenantId, context.windowIso),
  },
};
