import gql from 'graphql-tag';

export const alertsTypeDefs = gql(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  type CoherenceScore @key(fields: "tenantId") {
    tenantId: ID!
    "Notifications to this tenant that are waiting for an operator."
    openAlerts: Int!
  }
`);
