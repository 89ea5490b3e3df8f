import { expect, it } from 'vitest';
import { scenarios } from '../index';
import { sumOfSeries } from './metrics';

const exposition = `# HELP coherence_read_model_reads_total Read-model reads.
# TYPE coherence_read_model_reads_total counter
coherence_read_model_reads_total{target="primary"} 12
coherence_read_model_reads_total{target="eu"} 30
coherence_replica_fallbacks_total{replica_region="eu",reason="lag"} 4
coherence_replica_fallbacks_total{replica_region="eu",reason="down"} 2
gateway_redis_up 0
`;

it('sums the series of a metric that carry the labels asked for', () => {
  expect(sumOfSeries(exposition, 'coherence_read_model_reads_total', {})).toBe(42);
  expect(sumOfSeries(exposition, 'coherence_read_model_reads_total', { target: 'primary' })).toBe(12);
  expect(sumOfSeries(exposition, 'coherence_replica_fallbacks_total', { reason: 'down' })).toBe(2);
  expect(sumOfSeries(exposition, 'gateway_redis_up', {})).toBe(0);
});

it('answers undefined when no series matches, not 0', () => {
  expect(sumOfSeries(exposition, 'coherence_read_model_reads_total', { target: 'us' })).toBeUndefined();
  expect(sumOfSeries(exposition, 'gateway_redis', {})).toBeUndefined();
});

it('registers every dependency scenario once, by its command-line name', () => {
  const names = scenarios.map((scenario) => scenario.name);
  expect(new Set(names).size).toBe(names.length);
  for (const name of ['redis-down', 'redis-slow', 'neo4j-down', 'kafka-down', 'kafka-outage-10m', 'postgres-replica-lag']) {
    expect(names).toContain(name);
  }
  for (const name of ['postgres-replica-down', 'postgres-primary-restart', 'unleash-down', 'network-latency'])
    expect(names).toContain(name);
  const outage = scenarios.find((scenario) => scenario.name === 'kafka-outage-10m')!;
  expect(outage.defaults).toEqual({ durationMs: 600_000, kafkaRecordsPerSecond: 500 });
});
