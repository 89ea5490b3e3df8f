import gql from 'graphql-tag';

/** The score entity and its query; the subgraph's link to federation lives here. */
export const scoreTypeDefs = gql(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  "ISO-8601 date-time with zone."
  scalar DateTime

  enum CoherenceStatus {
    HEALTHY
    WARN
    CRITICAL
    UNKNOWN
  }

  type CoherenceScore @key(fields: "tenantId") {
    tenantId: ID!
    "Weighted mean of the signals in the window, 4 decimals; null when there are none."
    score: Float
    status: CoherenceStatus!
    "1 − (max − min) of the per-source means; null when there is no signal."
    agreement: Float
    "ISO-8601 duration of the window, e.g. PT24H."
    window: String!
    """
    The instant the score was computed as of: it covers the signals with ts in (asOf − window, asOf]
    stored by then. Null when the tenant has never been scored, and in coherenceEvents, whose
    change messages do not carry it.
    """
    asOf: DateTime
    "When the score was last written (a recompute that changes nothing also writes it)."
    updatedAt: DateTime!
    sources: [SourceScore!]!
  }

  type SourceScore {
    source: String!
    score: Float!
    count: Int!
  }

  type Query {
    tenantCoherence(tenantId: ID!): CoherenceScore!
  }

  """
  Served by the gateway over graphql-ws from the CoherenceChanged stream
  (@apollo/gateway does not federate subscriptions); declared here so the
  operation validates against the supergraph.
  """
  type Subscription {
    "The tenant's score each time it changes (changes within 100 ms are coalesced)."
    coherenceEvents(tenantId: ID!): CoherenceScore!
  }
`);
