import type { SubgraphContext } from '@coherence/platform';
import { GraphQLError } from 'graphql';
import { operatorErrorCodes, type OperatorErrorCode } from '../../errors';
import type { CommandRow, CommandState, OperatorAction, OperatorStorage } from './storage';

export type OperatorContext = SubgraphContext & {
  /** Over the tenants residing in the region of the gateway that signed the call. */
  operator: OperatorStorage;
  /** `operator:<subject>`, the subject the gateway's internal token carries. */
  actor: string;
};

const MAX_PAGE = 200;
type Status = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'TROUBLESHOOTING' | 'CANCELLED';
const toStatus = (state: CommandState) => state.toUpperCase() as Status;
const toState = (status: Status) => status.toLowerCase() as CommandState;
const operatorError = (code: OperatorErrorCode, message: string = operatorErrorCodes[code]) => ({ error: { code, message } });

/** Thrown only inside this module and turned into a typed payload or a coded GraphQL error. */
class InvalidArgument extends Error {}

function pageSize(first: number | null | undefined): number {
  const size = first ?? 50;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE) throw new InvalidArgument(`first must be 1..${MAX_PAGE}`);
  return size;
}

/** Longest operator reason kept in the audit trail. */
const MAX_REASON_LENGTH = 1_000;

const isUuid = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);

/**
 * Strict ISO-8601 date-time with an offset (`2026-11-25T03:00:00Z`, up to
 * microseconds). Date.parse takes much more (`2026-02-30`, `Nov 25 2026`,
 * year 0) that Postgres refuses or reads otherwise; those must be
 * INVALID_ARGUMENT, not an internal error.
 */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;
function isIsoDateTime(value: string): boolean {
  const match = ISO_DATE_TIME.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return year >= 1 && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

// The cursor carries updated_at to the microsecond (as Postgres has it), so
// `(updated_at, id) > cursor` excludes the cursor's own row.
const encodeCursor = (row: CommandRow) =>
  Buffer.from(JSON.stringify({ at: row.updated_at_exact, id: row.command_id })).toString('base64url');
function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { at?: unknown; id?: unknown };
    if (typeof value.at === 'string' && typeof value.id === 'string' && isIsoDateTime(value.at) && isUuid(value.id))
      return { at: value.at, id: value.id };
  } catch {
    // falls through to the error below
  }
  throw new InvalidArgument('after is not a cursor of this list');
}

/** Unexpected input on a query is a coded GraphQL error (a query has no payload to carry it). */
function asGraphQLError(error: unknown): never {
  if (error instanceof InvalidArgument) {
    throw new GraphQLError(error.message, { extensions: { code: 'INVALID_ARGUMENT' } });
  }
  throw error;
}

const command = (row: CommandRow) => ({
  id: row.command_id,
  tenantId: row.tenant_id,
  type: row.type,
  status: toStatus(row.state),
  idempotencyKey: row.idempotency_key,
  correlationId: row.correlation_id,
  attempts: row.attempts,
  maxAttempts: row.max_attempts,
  runAfter: row.run_after.toISOString(),
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
  lastError: row.last_error,
});

function act(action: OperatorAction) {
  return async (_: unknown, args: { id: string; reason: string }, context: OperatorContext) => {
    const { operator } = context;
    const reason = args.reason.trim();
    if (reason === '') return operatorError('REASON_REQUIRED');
    if (reason.length > MAX_REASON_LENGTH)
      return operatorError('INVALID_ARGUMENT', `reason must be at most ${MAX_REASON_LENGTH} characters`);
    if (!isUuid(args.id)) return operatorError('COMMAND_NOT_FOUND', `no command ${args.id}`);
    const result = await operator.act(action, args.id, context.actor, reason, context.requestId);
    if ('error' in result) return result;
    context.log.info({ command_id: args.id, action, actor: context.actor }, 'operator action');
    return { ok: command(result.ok) };
  };
}

export const operatorResolvers = {
  Query: {
    troubleshootingQueue: async (
      _: unknown,
      args: { filter?: { tenantId?: string | null; type?: string | null } | null; first?: number | null; after?: string | null },
      context: OperatorContext,
    ) => {
      const { operator } = context;
      try {
        const first = pageSize(args.first);
        const page = await operator.troubleshooting(args.filter ?? {}, first, args.after ? decodeCursor(args.after) : undefined);
        const last = page.rows.at(-1);
        return {
          edges: page.rows.map((row) => ({ cursor: encodeCursor(row), node: command(row) })),
          pageInfo: { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor(last) : null },
        };
      } catch (error) {
        return asGraphQLError(error);
      }
    },
    commands: async (
      _: unknown,
      args: {
        status?: Status | null;
        type?: string | null;
        from?: string | null;
        to?: string | null;
        tenantId?: string | null;
        first?: number | null;
      },
      context: OperatorContext,
    ) => {
      const { operator } = context;
      try {
        for (const bound of [args.from, args.to])
          if (bound && !isIsoDateTime(bound)) throw new InvalidArgument(`${bound} is not an ISO-8601 date-time with an offset`);
        const rows = await operator.list({ ...args, status: args.status ? toState(args.status) : null }, pageSize(args.first));
        return rows.map(command);
      } catch (error) {
        return asGraphQLError(error);
      }
    },
    commandAudit: async (_: unknown, args: { id: string }, context: OperatorContext) => {
      const { operator } = context;
      const rows = isUuid(args.id) ? await operator.audit(args.id) : null;
      if (!rows) return operatorError('COMMAND_NOT_FOUND', `no command ${args.id}`);
      return {
        entries: rows.map((row) => ({
          id: row.audit_id,
          commandId: row.command_id,
          actor: row.actor,
          action: row.action,
          from: row.from_state ? toStatus(row.from_state) : null,
          to: toStatus(row.to_state),
          reason: row.reason,
          correlationId: row.correlation_id,
          at: row.occurred_at.toISOString(),
        })),
      };
    },
    messages: async (_: unknown, args: { tenantId: string; first?: number | null }, context: OperatorContext) => {
      const { operator } = context;
      try {
        const rows = await operator.messages(args.tenantId, pageSize(args.first));
        return rows.map((row) => ({
          id: row.envelope_id,
          tenantId: row.tenant_id,
          channel: row.channel,
          direction: row.direction,
          provider: row.provider,
          providerMessageId: row.provider_message_id,
          correlationId: row.correlation_id,
          receivedAt: row.received_at.toISOString(),
          payloadJson: JSON.stringify(row.payload),
        }));
      } catch (error) {
        return asGraphQLError(error);
      }
    },
  },
  Mutation: {
    retryCommand: act('retry'),
    cancelCommand: act('cancel'),
    completeCommand: act('complete'),
  },
};
