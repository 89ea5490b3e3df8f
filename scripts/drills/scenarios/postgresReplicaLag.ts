import type { Scenario } from '../scenario';
import { replicaObservations } from './support/replica';

/** WAL replay paused on the EU replica (docs/runbooks/drills/postgres-replica-lag.md). */
export const postgresReplicaLag: Scenario = {
  name: 'postgres-replica-lag',
  summary: 'replica replay paused: EU reads fall back to the primary once it is COHERENCE_REPLICA_MAX_LAG_MS behind, never an error',
  promises: { no5xx: true },
  inject: (context) => context.dependencies.postgresReplica.pauseReplay(),
  observe: replicaObservations,
  heal: (context) => context.dependencies.postgresReplica.resumeReplay(),
};
