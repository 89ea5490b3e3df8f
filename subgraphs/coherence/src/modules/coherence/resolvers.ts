import type { PgPool, SubgraphContext } from '@coherence/platform';
import { resolveSignals, type SignalsContext } from '../signals/resolvers';
import { readCoherenceScore } from './readModel';
import { readScoreHistory } from './scoreHistory';

export type CoherenceContext = SubgraphContext &
  SignalsContext & {
    pool: PgPool;
    /** Runs a read-model read where this request's reads go: the hinted region's replica, or the primary (`pool`). */
    readModel: <T>(read: (pool: PgPool) => Promise<T>) => Promise<T>;
    windowIso: string;
  };

export const coherenceResolvers = {
  Query: {
    tenantCoherence: (_root: unknown, args: { tenantId: string }, context: CoherenceContext) =>
      context.readModel((pool) => readCoherenceScore(pool, args.tenantId, context.windowIso)),
    tenantCoherenceHistory: (
      _root: unknown,
      args: { tenantId: string; limit?: number | null; before?: string | null },
      context: CoherenceContext,
    ) => context.readModel((pool) => readScoreHistory(pool, args)),
    signals: (_root: unknown, args: Parameters<typeof resolveSignals>[0], context: CoherenceContext) => resolveSignals(args, context),
  },
  CoherenceScore: {
    __resolveReference: (reference: { tenantId: string }, context: CoherenceContext) =>
      context.readModel((pool) => readCoherenceScore(pool, reference.tenantId, context.windowIso)),
  },
};
