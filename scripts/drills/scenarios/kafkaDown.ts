import type { Scenario } from '../scenario';
import { isReady, readMetric, seen } from './support/metrics';

/** The Kafka broker stopped for the duration (docs/runbooks/drills/kafka-down.md). */
export const kafkaDown: Scenario = {
  name: 'kafka-down',
  summary: 'Kafka broker stopped: HTTP ingest unaffected, the consumer reconnects and its lag is back to zero within 60 s of heal',
  // The goal is the Kafka lag back to zero within 60 s; everything (the graph included) within the seed's 5 minutes.
  promises: { no5xx: true, httpIngestUnaffected: true, maxKafkaLagZeroMs: 60_000, maxCatchUpMs: 300_000 },
  inject: (context) => context.dependencies.kafka.stop(),
  async observe(context) {
    return seen({
      'HTTP ingest ready': await isReady(context, 'ingest'),
      'consumer ready': await isReady(context, 'ingest-consumer'),
      'consumer lag as of its last fetch (records)': await readMetric(context, 'ingest-consumer', 'ingest_consumer_lag'),
      'consumer stalled': await readMetric(context, 'ingest-consumer', 'ingest_consumer_stalled'),
    });
  },
  heal: (context) => context.dependencies.kafka.start(),
};
