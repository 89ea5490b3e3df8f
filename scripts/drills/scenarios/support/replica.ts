import type { DrillContext } from '../../scenario';
import { readMetric, seen } from './metrics';

/** Where the coherence subgraph's read-model reads went while the replica was lagging or gone, and why. */
export async function replicaObservations(context: DrillContext): Promise<Record<string, string | number | boolean>> {
  return seen({
    'replica lag (s; NaN: not answering)': await readMetric(context, 'coherence', 'coherence_replica_lag_seconds'),
    'reads on the primary': await readMetric(context, 'coherence', 'coherence_read_model_reads_total', { target: 'primary' }),
    'reads fallen back from the replica (lag)': await readMetric(context, 'coherence', 'coherence_replica_fallbacks_total', {
      reason: 'lag',
    }),
    'reads fallen back from the replica (down)': await readMetric(context, 'coherence', 'coherence_replica_fallbacks_total', {
      reason: 'down',
    }),
  });
}
