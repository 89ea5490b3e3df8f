import { GraphQLError } from 'graphql';
import type { Driver } from 'neo4j-driver';
import { readSignalPage, type GraphSignal } from '../../graph/signalGraph';
import { decodeSignalCursor, encodeSignalCursor, signalNodeId } from './signalCursor';

export interface SignalsContext {
  driver: Driver;
  /** Largest `first` accepted. */
  maxPageSize: number;
}

interface SignalsArgs {
  tenantId: string;
  since?: string | null;
  until?: string | null;
  first?: number | null;
  after?: string | null;
}

const badInput = (message: string, argumentName: string) =>
  new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', argumentName } });

function isoInstant(value: string | null | undefined, argumentName: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (!/[zZ]|[+-]\d{2}:?\d{2}$/.test(value) || Number.isNaN(Date.parse(value)))
    throw badInput(`${argumentName} must be an ISO-8601 date-time with a zone`, argumentName);
  return value;
}

/** `signals(tenantId, since, until, first, after)`: the tenant's signals from the graph, newest first. */
export async function resolveSignals(args: SignalsArgs, context: SignalsContext) {
  const first = args.first ?? 50;
  if (!Number.isInteger(first) || first < 1 || first > context.maxPageSize)
    throw badInput(`first must be between 1 and ${context.maxPageSize}`, 'first');
  const after = args.after ? decodeSignalCursor(args.after) : undefined;
  if (after === null) throw badInput('after is not a cursor this API gave out', 'after');

  const page = await readSignalPage(context.driver, {
    tenantId: args.tenantId,
    since: isoInstant(args.since, 'since'),
    until: isoInstant(args.until, 'until'),
    first,
    after,
  });
  const edges = page.signals.map((signal: GraphSignal) => ({
    cursor: encodeSignalCursor(signal),
    node: { ...signal, id: signalNodeId(signal) },
  }));
  return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
}
