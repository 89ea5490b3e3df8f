import gql from 'graphql-tag';

/** The signal graph as clients page through it (docs/architecture.md, "Read path"). */
export const signalsTypeDefs = gql(/* GraphQL */ `
  type Provenance {
    purpose: String!
    retention: String!
    license: String!
    residency: String!
  }

  type Signal {
    "Opaque; stable for the signal's key (tenantId, source, signalId, ts)."
    id: ID!
    tenantId: ID!
    source: String!
    signalId: String!
    type: String!
    value: Float!
    weight: Float!
    ts: DateTime!
    receivedAt: DateTime!
    provenance: Provenance!
  }

  type SignalEdge {
    cursor: String!
    node: Signal!
  }

  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }

  type SignalConnection {
    edges: [SignalEdge!]!
    pageInfo: PageInfo!
  }

  extend type Query {
    "Newest first; since and until are inclusive bounds on ts; first is at most 500 by default."
    signals(tenantId: ID!, since: DateTime, until: DateTime, first: Int = 50, after: String): SignalConnection!
  }
`);
