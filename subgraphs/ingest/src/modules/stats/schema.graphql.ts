import gql from 'graphql-tag';

export const statsTypeDefs = gql(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  scalar DateTime

  type CoherenceScore @key(fields: "tenantId") {
    tenantId: ID!
    "How this tenant's signals are arriving."
    ingest: IngestStats!
  }

  type IngestStats {
    "When the newest stored signal was received; null before the first."
    lastSignalAt: DateTime
    "Accepted signals the relay has not projected into the graph yet."
    backlog: Int!
    "Share of received signals that were duplicates of stored ones, in [0, 1]."
    dedupeRate: Float!
    "Signals accepted in the last 24 hours."
    accepted24h: Int!
  }
`);
