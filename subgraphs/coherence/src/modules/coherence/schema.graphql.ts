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
    stored by then. Null when the tenant has never been scored, and in coherenceEvents for a change
    recorded before change messages carried it.
    """
    asOf: DateTime
    "When the score was last written (a recompute that changes nothing also writes it)."
    updatedAt: DateTime!
    sources: [SourceScore!]!
  }

  type SourceScore {
    source: String!
    "The source's weighted mean in the window, 4 decimals."
    score: Float!
    count: Int!
    """
    The source's weight in the score: the sum of its signals' weights in the window (the score is the mean of
    every signal weighted by its own weight, so a source counts in proportion to this), 4 decimals. Null for a
    score written before weights were recorded.
    """
    weight: Float
  }

  "A tenant's score right after one of its changes."
  type CoherenceHistoryPoint {
    "Null when the window emptied."
    score: Float
    status: CoherenceStatus!
    changedAt: DateTime!
  }

  type CoherenceHistoryPage {
    "Newest first."
    points: [CoherenceHistoryPoint!]!
    "Pass as before for the next older page; null when this page reaches the tenant's first recorded change."
    nextBefore: String
  }

  type Query {
    tenantCoherence(tenantId: ID!): CoherenceScore!
    """
    Every change of the tenant's score or status, newest first (what the relay records with each
    CoherenceChanged; retention deletes old ones). limit is 1 to 500; before is a nextBefore this API gave out.
    """
    tenantCoherenceHistory(tenantId: ID!, limit: Int = 100, before: String): CoherenceHistoryPage!
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
