import { coherenceDashboard, statPanel, timeseriesPanel } from '../panels';
import { aggregate, percentiles, series, sumRate } from '../promql';
import { exported as m, services } from '../series';

/** Signals in (HTTP and Kafka): accepted, deduped, refused; the Kafka consumer and its dead-letter topic. */
export const ingest = () =>
  coherenceDashboard({
    uid: 'coherence-ingest',
    title: 'Coherence / Ingest',
    description: 'Signals pushed over HTTP and consumed from Kafka: accepted, deduplicated and refused; consumer lag and dead letters.',
    rows: [
      {
        title: 'Signals',
        panels: [
          timeseriesPanel({
            title: 'Signals accepted, deduplicated and refused',
            description:
              'Per second, by transport: signals stored for the first time (processed minus deduplicated), signals whose key was already stored, and signals the write policy refused.',
            unit: 'cps',
            queries: [
              {
                expr: `${sumRate(m.ingestProcessed, { by: ['transport'] })} - ${sumRate(m.ingestDeduped, { by: ['transport'] })}`,
                legend: 'accepted {{transport}}',
              },
              { expr: sumRate(m.ingestDeduped, { by: ['transport'] }), legend: 'deduplicated {{transport}}' },
              {
                expr: sumRate(m.ingestWriteDecisions, { matchers: 'reason_code!="ALLOWED"', by: ['transport'] }),
                legend: 'refused {{transport}}',
              },
            ],
          }),
          statPanel({
            title: 'Dedupe rate',
            description:
              'Deduplicated signals over processed ones in the rate interval; the alerts warn at 10 % and page at 20 % (a producer resending everything).',
            unit: 'percentunit',
            thresholds: [
              { from: null, color: 'green' },
              { from: 0.1, color: 'orange' },
              { from: 0.2, color: 'red' },
            ],
            queries: [{ expr: `${sumRate(m.ingestDeduped)} / ${sumRate(m.ingestProcessed)}`, legend: 'dedupe rate' }],
          }),
          timeseriesPanel({
            title: 'Refusals by reason code',
            description:
              'Signals the write policy refused per second, by reason code (TENANT_UNKNOWN, RESIDENCY_VIOLATION, …) and transport.',
            unit: 'cps',
            width: 6,
            queries: [
              {
                expr: sumRate(m.ingestWriteDecisions, { matchers: 'reason_code!="ALLOWED"', by: ['reason_code', 'transport'] }),
                legend: '{{reason_code}} {{transport}}',
              },
            ],
          }),
          timeseriesPanel({
            title: 'HTTP errors by route and status',
            description:
              "Requests to ingest's listeners answered 4xx or 5xx per second (invalid payloads, refused tokens, throttled addresses).",
            unit: 'reqps',
            queries: [
              {
                expr: sumRate(`${m.httpRequestSeconds}_count`, {
                  matchers: `service="${services.ingest}", status=~"4..|5.."`,
                  by: ['route', 'status'],
                }),
                legend: '{{status}} {{route}}',
              },
            ],
          }),
          timeseriesPanel({
            title: 'Store latency p50 / p95 / p99',
            description: 'Time of the ledger + outbox transaction that stores a batch of signals, over both transports.',
            unit: 's',
            queries: percentiles(m.ingestStoreSeconds),
          }),
        ],
      },
      {
        title: 'Kafka consumer',
        panels: [
          timeseriesPanel({
            title: 'Consumer lag by partition',
            description: 'Records between the last one the consumer stored and the end of each partition, as of its last fetch.',
            unit: 'short',
            queries: [
              { expr: `${aggregate('max', ['topic', 'partition'])}(${series(m.ingestConsumerLag)})`, legend: '{{topic}}/{{partition}}' },
            ],
          }),
          timeseriesPanel({
            title: 'Consumer paused and stalled',
            description:
              'Consumers paused for the outbox backlog (back-pressure, expected under load) and consumers stalled (records pending, none committed for INGEST_CONSUMER_STALL_SECONDS).',
            unit: 'short',
            width: 6,
            queries: [
              { expr: `sum(${series(m.ingestConsumerPaused)})`, legend: 'paused' },
              { expr: `sum(${series(m.ingestConsumerStalled)})`, legend: 'stalled' },
            ],
          }),
          timeseriesPanel({
            title: 'Dead-lettered records by code',
            description: 'Kafka records sent to the dead-letter topic per second, by the code of their dlq-reason header.',
            unit: 'cps',
            width: 6,
            queries: [{ expr: sumRate(m.ingestDlqRecords, { by: ['code'] }), legend: '{{code}}' }],
          }),
        ],
      },
    ],
  });
