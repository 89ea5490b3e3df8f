import { coherenceDashboard, statPanel, timeseriesPanel } from '../panels';
import { percentiles, series, sumRate } from '../promql';
import { exported as m } from '../series';

/**
 * The outbox relay and the graph. The outbox gauges are read from the outbox
 * table at scrape time, so every relay replica reports the same value: the
 * panels take their `max`, not their sum.
 */
export const relayGraph = () =>
  coherenceDashboard({
    uid: 'coherence-relay-graph',
    title: 'Coherence / Relay and graph',
    description: 'The outbox relay projecting accepted signals into Neo4j and the read model: lag, backlog, graph writes, projection rate.',
    rows: [
      {
        title: 'Outbox',
        panels: [
          statPanel({
            title: 'Outbox lag',
            description: 'Age of the oldest outbox event not projected yet (0 when drained); it keeps growing while every relay is down.',
            unit: 's',
            thresholds: [
              { from: null, color: 'green' },
              { from: 30, color: 'orange' },
              { from: 120, color: 'red' },
            ],
            queries: [{ expr: `max(${series(m.relayOutboxLagSeconds)})`, legend: 'lag' }],
          }),
          timeseriesPanel({
            title: 'Outbox backlog and quarantine',
            description:
              'Outbox events not projected yet, and events in outbox_quarantine waiting for an operator (npm run outbox -- list).',
            unit: 'short',
            width: 9,
            queries: [
              { expr: `max(${series(m.relayOutboxBacklog)})`, legend: 'backlog' },
              { expr: `max(${series(m.relayOutboxQuarantined)})`, legend: 'quarantined' },
            ],
          }),
          timeseriesPanel({
            title: 'Event lag p50 / p95 / p99',
            description: 'From an outbox event being written by ingest to its projection being committed by the relay.',
            unit: 's',
            width: 9,
            queries: percentiles(m.relayEventLagSeconds),
          }),
        ],
      },
      {
        title: 'Graph',
        panels: [
          timeseriesPanel({
            title: 'Neo4j write latency p50 / p95 / p99',
            description: 'Time of one Neo4j write of a chunk of signals (at most RELAY_GRAPH_CHUNK_SIZE).',
            unit: 's',
            queries: percentiles(m.relayGraphWriteSeconds),
          }),
          timeseriesPanel({
            title: 'Projection rate',
            description: 'Outbox events and signals projected into the graph per second, and CoherenceChanged messages published.',
            unit: 'cps',
            queries: [
              { expr: sumRate(m.relayEvents), legend: 'events' },
              { expr: sumRate(m.relaySignals), legend: 'signals' },
              { expr: sumRate(m.relayChangedPublished), legend: 'CoherenceChanged published' },
            ],
          }),
          timeseriesPanel({
            title: 'Failed attempts and quarantines',
            description:
              'Failed attempts to project one event (each delays it) and events moved to quarantine (the last attempt failed, or the event breaks its contract), per second.',
            unit: 'cps',
            queries: [
              { expr: sumRate(m.relayEventFailures), legend: 'failed attempts' },
              { expr: sumRate(m.relayEventsQuarantined), legend: 'quarantined' },
            ],
          }),
          timeseriesPanel({
            title: 'Read-model reads by target',
            description:
              "The coherence subgraph's score reads per second, by where they went: the primary, or the region of a read replica.",
            unit: 'reqps',
            stacked: true,
            queries: [{ expr: sumRate(m.coherenceReadModelReads, { by: ['target'] }), legend: '{{target}}' }],
          }),
        ],
      },
    ],
  });
