import type { Scenario } from '../scenario';
import { replicaObservations } from './support/replica';

/** The EU replica stopped (docs/runbooks/drills/postgres-replica-down.md). */
export const postgresReplicaDown: Scenario = {
  name: 'postgres-replica-down',
  summary: 'replica stopped: EU reads fall back to the primary, with a metric, never an error',
  promises: { no5xx: true },
  inject: (context) => context.dependencies.postgresReplica.stop(),
  observe: replicaObservations,
  heal: (context) => context.dependencies.postgresReplica.start(),
};
