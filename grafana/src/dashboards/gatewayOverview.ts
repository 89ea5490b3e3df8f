import { coherenceDashboard, statPanel, timeseriesPanel } from '../panels';
import { percentiles, series, sumRate } from '../promql';
import { exported as m, services } from '../series';

const graphql = `service="${services.gateway}", route="/graphql"`;

/** The gateway's traffic, latency, refusals, response cache and limiter. */
export const gatewayOverview = () =>
  coherenceDashboard({
    uid: 'coherence-gateway-overview',
    title: 'Coherence / Gateway overview',
    description: 'The federated GraphQL gateway: traffic, latency, errors and refusals, response cache, rate limiter.',
    rows: [
      {
        title: 'Traffic',
        panels: [
          timeseriesPanel({
            title: 'Requests per second by status',
            description: 'GraphQL requests (POST /graphql) answered per second, by HTTP status, summed over the gateway replicas.',
            unit: 'reqps',
            stacked: true,
            queries: [{ expr: sumRate(`${m.httpRequestSeconds}_count`, { matchers: graphql, by: ['status'] }), legend: '{{status}}' }],
          }),
          timeseriesPanel({
            title: 'Latency p50 / p95 / p99',
            description: 'Time to answer a GraphQL request, from the gateway listener receiving it to the response being sent.',
            unit: 's',
            queries: percentiles(m.httpRequestSeconds, { matchers: graphql }),
          }),
          timeseriesPanel({
            title: 'Errors by HTTP status',
            description: 'GraphQL requests answered 4xx or 5xx per second, by status (401 token, 403 policy, 429 limiter, 5xx failures).',
            unit: 'reqps',
            queries: [
              {
                expr: sumRate(`${m.httpRequestSeconds}_count`, { matchers: `${graphql}, status=~"4..|5.."`, by: ['status'] }),
                legend: '{{status}}',
              },
            ],
          }),
          timeseriesPanel({
            title: 'Refusals by reason code',
            description:
              'Requests refused per second by the token check (401) and by the policy (403), by the reason code the client gets.',
            unit: 'reqps',
            queries: [
              { expr: sumRate(m.gatewayAuthDenials, { by: ['reason_code'] }), legend: 'auth {{reason_code}}' },
              {
                expr: sumRate(m.gatewayPolicyDecisions, { matchers: 'allow="false"', by: ['reason_code'] }),
                legend: 'policy {{reason_code}}',
              },
            ],
          }),
        ],
      },
      {
        title: 'Response cache',
        panels: [
          statPanel({
            title: 'Cache hit ratio',
            description: 'Hits over cacheable requests in the rate interval; the alert threshold is 70 %.',
            unit: 'percentunit',
            thresholds: [
              { from: null, color: 'red' },
              { from: 0.5, color: 'orange' },
              { from: 0.7, color: 'green' },
            ],
            queries: [
              {
                expr: `${sumRate(m.gatewayCacheRequests, { matchers: 'outcome="hit"' })} / ${sumRate(m.gatewayCacheRequests)}`,
                legend: 'hit ratio',
              },
            ],
          }),
          timeseriesPanel({
            title: 'Cacheable requests by outcome',
            description: 'Cacheable requests per second: hit (no subgraph call of its own), miss (loaded), bypass (Redis failed, loaded).',
            unit: 'reqps',
            stacked: true,
            width: 9,
            queries: [{ expr: sumRate(m.gatewayCacheRequests, { by: ['outcome'] }), legend: '{{outcome}}' }],
          }),
          timeseriesPanel({
            title: 'Cache Redis errors by step',
            description: 'Redis commands of the cache that failed or timed out per second, by step (lookup, lock, store, invalidate).',
            unit: 'cps',
            width: 9,
            queries: [{ expr: sumRate(m.gatewayCacheErrors, { by: ['step'] }), legend: '{{step}}' }],
          }),
        ],
      },
      {
        title: 'Rate limiter',
        panels: [
          timeseriesPanel({
            title: 'Limiter decisions by outcome',
            description: 'Limiter decisions per second: allowed, or limited (answered 429).',
            unit: 'reqps',
            stacked: true,
            queries: [{ expr: sumRate(m.gatewayRatelimitDecisions, { by: ['outcome'] }), legend: '{{outcome}}' }],
          }),
          timeseriesPanel({
            title: 'Limited requests by bucket',
            description: "Requests refused per second, by the bucket that had no room: the caller's, the tenant's, or both.",
            unit: 'reqps',
            queries: [{ expr: sumRate(m.gatewayRatelimitLimited, { by: ['bucket'] }), legend: '{{bucket}}' }],
          }),
          timeseriesPanel({
            title: 'Limiter fallback in use',
            description:
              'Decisions taken in process per second because Redis failed or timed out (fail-open fallback), by outcome; above zero means the limits are per replica only.',
            unit: 'reqps',
            width: 8,
            queries: [
              {
                expr: sumRate(m.ratelimitFallbackDecisions, { matchers: `service="${services.gateway}"`, by: ['outcome'] }),
                legend: '{{outcome}}',
              },
            ],
          }),
          statPanel({
            title: 'Limiter Redis available',
            description:
              "The lowest value over the replicas of whether the limiter's Redis answers (1) or the in-process fallback decides (0).",
            unit: 'short',
            width: 4,
            thresholds: [
              { from: null, color: 'red' },
              { from: 1, color: 'green' },
            ],
            queries: [{ expr: `min(${series(m.ratelimitRedisAvailable, `service="${services.gateway}"`)})`, legend: 'available' }],
          }),
          timeseriesPanel({
            title: 'Saturation: share factor and in-flight requests',
            description:
              "What every tenant's rate is multiplied by (1 unless the gateway is saturated; the lowest replica's), and GraphQL requests in flight over all replicas.",
            unit: 'short',
            queries: [
              { expr: `min(${series(m.gatewayRatelimitShareFactor)})`, legend: 'share factor' },
              { expr: `sum(${series(m.gatewayInFlightRequests)})`, legend: 'in flight' },
            ],
          }),
        ],
      },
    ],
  });
