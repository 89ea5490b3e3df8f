import gql from 'graphql-tag';

/**
 * The tenant-admin API (docs/adr/0031-tenant-administration.md): scope
 * tenants:admin at the gateway for every field, tenants:admin:self for a
 * tenant's own contacts, quiet hours, settings view and audit. Every change
 * is audited and announced as `TenantChanged`. `DateTime` is the operator
 * module's scalar.
 */
export const tenantAdminTypeDefs = gql(/* GraphQL */ `
  "Why a tenant-admin change or read was refused; field is the input's path, e.g. settings.weight or contact.url."
  enum TenantAdminErrorCode {
    INVALID_INPUT
    TENANT_EXISTS
    TENANT_NOT_FOUND
    "This comms instance has no tenant-admin database (COMMS_ADMIN_DATABASE_URL)."
    TENANT_ADMIN_DISABLED
  }

  type TenantAdminError {
    code: TenantAdminErrorCode!
    field: String!
    message: String!
  }

  type QuietHours {
    "IANA time zone, e.g. Europe/Berlin."
    timeZone: String!
    "HH:MM; after endsAt when the quiet hours span midnight."
    startsAt: String!
    endsAt: String!
  }

  type WebhookContact {
    contactId: String!
    url: String!
  }

  "Tokens naming this client_id are accepted while enabled, with these scopes at most."
  type ApiClient {
    clientId: String!
    scopes: [String!]!
    enabled: Boolean!
  }

  type Tenant {
    tenantId: ID!
    name: String!
    "The region its data resides in."
    residency: String!
    "The region serving it; null = its residency."
    region: String
    "Its share of the gateway's rate."
    weight: Float!
    "The gateway cache's TTL for it; null = the gateway's default."
    cacheTtlSeconds: Int
    "Its share of ingest's rate; null = 1."
    rateShare: Float
    "Cost-model units a month (docs/slo.md); null = no budget."
    budgetUnits: Float
    "Set while suspended: its reads and writes are refused with TENANT_SUSPENDED."
    suspendedAt: DateTime
    quietHours: QuietHours
    contacts: [WebhookContact!]!
    apiClients: [ApiClient!]!
  }

  "One change: who (admin:<token subject>), what, the object before and after as JSON (null when absent), when."
  type TenantAuditEntry {
    id: ID!
    tenantId: ID!
    actor: String!
    action: String!
    beforeJson: String
    afterJson: String
    at: DateTime!
  }

  "Absent fields are left as they are; null sets a field back to its default."
  input TenantSettingsInput {
    name: String
    residency: String
    region: String
    weight: Float
    cacheTtlSeconds: Int
    rateShare: Float
    budgetUnits: Float
  }

  input NewTenantInput {
    tenantId: ID!
    "residency is required."
    settings: TenantSettingsInput!
  }

  input QuietHoursInput {
    timeZone: String!
    startsAt: String!
    endsAt: String!
  }

  input WebhookContactInput {
    contactId: String!
    "http or https; refused when it resolves to a loopback, private or link-local address (SSRF guard)."
    url: String!
  }

  input ApiClientInput {
    clientId: String!
    scopes: [String!]!
    enabled: Boolean!
  }

  type TenantPayload {
    tenant: Tenant
    error: TenantAdminError
  }

  type QuietHoursPayload {
    "null when the quiet hours were removed."
    quietHours: QuietHours
    error: TenantAdminError
  }

  type WebhookContactPayload {
    contact: WebhookContact
    error: TenantAdminError
  }

  type RemoveContactPayload {
    "false when there was no such contact."
    removed: Boolean
    error: TenantAdminError
  }

  type ApiClientPayload {
    apiClient: ApiClient
    error: TenantAdminError
  }

  type TenantAuditPayload {
    entries: [TenantAuditEntry!]
    error: TenantAdminError
  }

  extend type Query {
    tenant(tenantId: ID!): TenantPayload!
    "The tenant's changes, newest first; first is 1..1000."
    tenantAudit(tenantId: ID!, first: Int = 100): TenantAuditPayload!
  }

  extend type Mutation {
    createTenant(input: NewTenantInput!): TenantPayload!
    updateTenant(tenantId: ID!, settings: TenantSettingsInput!): TenantPayload!
    "Refuses the tenant's reads, writes and live subscriptions with TENANT_SUSPENDED until resumed."
    suspendTenant(tenantId: ID!): TenantPayload!
    resumeTenant(tenantId: ID!): TenantPayload!
    "null removes the quiet hours."
    setQuietHours(tenantId: ID!, quietHours: QuietHoursInput): QuietHoursPayload!
    "Adds or replaces the webhook contact with this contactId."
    putContact(tenantId: ID!, contact: WebhookContactInput!): WebhookContactPayload!
    removeContact(tenantId: ID!, contactId: String!): RemoveContactPayload!
    "Adds or replaces the API client with this clientId."
    putApiClient(tenantId: ID!, client: ApiClientInput!): ApiClientPayload!
  }
`);
