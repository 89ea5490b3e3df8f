import gql from 'graphql-tag';

/** The operator API over the command bus (scope comms:operate at the gateway; docs/architecture.md, "Trust boundary"). */
export const operatorTypeDefs = gql(/* GraphQL */ `
  scalar DateTime

  enum CommandStatus {
    PENDING
    RUNNING
    SUCCEEDED
    TROUBLESHOOTING
    CANCELLED
  }

  "The last failure of a command: code from the comms error registry, transient or permanent."
  type CommandError {
    code: String!
    kind: String!
    message: String!
    attempt: Int!
    at: DateTime!
  }

  type Command {
    id: ID!
    tenantId: ID!
    type: String!
    status: CommandStatus!
    idempotencyKey: String!
    correlationId: String!
    attempts: Int!
    maxAttempts: Int!
    "Not attempted before this time (backoff, quiet hours)."
    runAfter: DateTime!
    createdAt: DateTime!
    updatedAt: DateTime!
    lastError: CommandError
  }

  type CommandEdge {
    cursor: String!
    node: Command!
  }

  type CommandPageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }

  type CommandConnection {
    edges: [CommandEdge!]!
    pageInfo: CommandPageInfo!
  }

  input TroubleshootingFilter {
    tenantId: ID
    type: String
  }

  "One state change: who (system:<worker> or operator:<subject>), what, when, from, to, why."
  type CommandAuditEntry {
    id: ID!
    commandId: ID!
    actor: String!
    action: String!
    from: CommandStatus
    to: CommandStatus!
    reason: String!
    correlationId: String!
    at: DateTime!
  }

  "An inbound or outbound provider message, payload as the provider sent it (JSON)."
  type CommsMessage {
    id: ID!
    tenantId: ID!
    channel: String!
    direction: String!
    provider: String!
    providerMessageId: String
    correlationId: String!
    receivedAt: DateTime!
    payloadJson: String!
  }

  enum OperatorErrorCode {
    COMMAND_NOT_FOUND
    INVALID_TRANSITION
    REASON_REQUIRED
    INVALID_ARGUMENT
  }

  type OperatorError {
    code: OperatorErrorCode!
    message: String!
  }

  "Either the command after the action (ok) or why the action did not apply (error)."
  type CommandActionPayload {
    ok: Command
    error: OperatorError
  }

  type CommandAuditPayload {
    entries: [CommandAuditEntry!]
    error: OperatorError
  }

  type Query {
    "Commands waiting for an operator, oldest first; first is 1..200."
    troubleshootingQueue(filter: TroubleshootingFilter, first: Int = 50, after: String): CommandConnection!
    "Commands by status, type, creation time range [from, to) and tenant, newest first; first is 1..200."
    commands(status: CommandStatus, type: String, from: DateTime, to: DateTime, tenantId: ID, first: Int = 50): [Command!]!
    commandAudit(id: ID!): CommandAuditPayload!
    "A tenant's inbound/outbound provider messages, newest first."
    messages(tenantId: ID!, first: Int = 50): [CommsMessage!]!
  }

  type Mutation {
    "Troubleshooting → pending, attempts reset."
    retryCommand(id: ID!, reason: String!): CommandActionPayload!
    "Pending or troubleshooting → cancelled."
    cancelCommand(id: ID!, reason: String!): CommandActionPayload!
    "Troubleshooting → succeeded (the operator handled it by hand)."
    completeCommand(id: ID!, reason: String!): CommandActionPayload!
  }
`);
