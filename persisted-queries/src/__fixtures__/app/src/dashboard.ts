// A frontend source as pq reads it: operations in gql-tagged templates.
import gql from 'graphql-tag';

export const scoreFields = gql`
  fragment ScoreFields on CoherenceScore {
    score
    status
  }
`;

export const dashboardQuery = gql`
  query Dashboard($tenantId: ID!) {
    tenantCoherence(tenantId: $tenantId) {
      tenantId
      ...ScoreFields
    }
  }
`;
