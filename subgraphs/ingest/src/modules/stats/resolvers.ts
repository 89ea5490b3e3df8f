import type { PgPool, SubgraphContext } from '@coherence/platform';
import { readIngestStats } from './readIngestStats';

export type IngestContext = SubgraphContext & { pool: PgPool };

export const statsResolvers = {
  CoherenceScore: {
    __resolveReference: (reference: { tenantId: string }) => reference,
    ingest: (score: { tenantId: string }, _args: unknown, context: IngestContext) => readIngestStats(context.pool, score.tenantId),
  },
};
