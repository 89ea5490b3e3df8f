import gql from 'graphql-tag';

// Kept out of the fixture manifest on purpose: `pq check` must point here.
export const sourcesQuery = gql`
  query SourceBreakdown($tenantId: ID!) {
    tenantCoherence(tenantId: $tenantId) {
      sources {
        source
        count
      }
    }
  }
`;
