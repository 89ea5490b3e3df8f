import type { CoherenceStatus } from '@coherence/contracts';
import type { PgPool } from '@coherence/platform';
import { GraphQLError } from 'graphql';

/** `limit`'s default and largest value; the persisted operation's cost scales by the same pages (persisted-queries/costs.json). */
export const HISTORY_DEFAULT_LIMIT = 100;
export const HISTORY_MAX_LIMIT = 500;

export interface ScoreHistoryPoint {
  score: number | null;
  status: CoherenceStatus;
  changedAt: string;
}

export interface ScoreHistoryPage {
  /** Newest first. */
  points: ScoreHistoryPoint[];
  /** The cursor of the next older page, or null when this page reaches the first change. */
  nextBefore: string | null;
}

interface HistoryRow {
  id: string;
  score: number | null;
  status: CoherenceStatus;
  changed_at: string;
}

/** Opaque to clients: base64url of the history row's id, so the paging key can change without breaking them. */
export function encodeHistoryCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** The row id a cursor names, or null when it is not one of ours. */
export function decodeHistoryCursor(cursor: string): string | null {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  return /^[1-9]\d{0,18}$/.test(id) && BigInt(id) <= 9_223_372_036_854_775_807n ? id : null;
}

const badInput = (message: string, argumentName: string) =>
  new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', argumentName } });

/**
 * One page of a tenant's score changes from `coherence_score_history`, newest
 * first, under the table's row-level security (coherence migration 007 sets
 * the tenant and reads in one statement).
 */
export async function readScoreHistory(
  pool: PgPool,
  args: { tenantId: string; limit?: number | null; before?: string | null },
): Promise<ScoreHistoryPage> {
  const limit = args.limit ?? HISTORY_DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > HISTORY_MAX_LIMIT)
    throw badInput(`limit must be between 1 and ${HISTORY_MAX_LIMIT}`, 'limit');
  const before = args.before ? decodeHistoryCursor(args.before) : null;
  if (args.before && before === null) throw badInput('before is not a cursor this API gave out', 'before');

  // One row more than asked tells whether an older page exists.
  const { rows } = await pool.query<HistoryRow>('SELECT * FROM coherence_read_score_history($1, $2, $3)', [
    args.tenantId,
    before,
    limit + 1,
  ]);
  const page = rows.slice(0, limit);
  return {
    points: page.map((row) => ({ score: row.score, status: row.status, changedAt: row.changed_at })),
    nextBefore: rows.length > limit ? encodeHistoryCursor(page.at(-1)!.id) : null,
  };
}
