import type { PgClient, PgPool } from '@coherence/platform';

/** The first response given for one (tenant, Idempotency-Key). */
export interface StoredResponse {
  requestSha256: string;
  requestBody: unknown;
  status: number;
  /** The exact bytes sent, so a replay is byte-for-byte the same. */
  body: string;
}

/**
 * Serialises requests carrying the same key until the current transaction
 * ends: the second of two concurrent retries waits, then finds the first's
 * stored response instead of storing the batch a second time. The caller's
 * transaction must already be scoped to `tenantId`. A record older than
 * `ttlHours` counts as absent even before expiry has deleted it.
 */
export async function lockIdempotencyKey(
  client: PgClient,
  tenantId: string,
  key: string,
  ttlHours: number,
): Promise<StoredResponse | undefined> {
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`ingest.idempotency:${tenantId}:${key}`]);
  const { rows } = await client.query<{ request_sha256: string; request_body: unknown; response_status: number; response_body: string }>(
    `SELECT request_sha256, request_body, response_status, response_body
       FROM idempotency_keys
      WHERE tenant_id = $1 AND idempotency_key = $2 AND created_at > now() - make_interval(hours => $3)`,
    [tenantId, key, ttlHours],
  );
  const row = rows[0];
  return row && { requestSha256: row.request_sha256, requestBody: row.request_body, status: row.response_status, body: row.response_body };
}

/**
 * Records the response in the caller's transaction, the one that also wrote
 * the ledger and outbox; replaces an expired record of the same key.
 */
export async function saveIdempotentResponse(client: PgClient, tenantId: string, key: string, response: StoredResponse): Promise<void> {
  await client.query(
    `INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_sha256, request_body, response_status, response_body)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (tenant_id, idempotency_key) DO UPDATE
       SET request_sha256 = EXCLUDED.request_sha256, request_body = EXCLUDED.request_body,
           response_status = EXCLUDED.response_status, response_body = EXCLUDED.response_body, created_at = now()`,
    [tenantId, key, response.requestSha256, JSON.stringify(response.requestBody), response.status, response.body],
  );
}

/** Deletes records older than `ttlHours` over all tenants, at most `maxRows` per call; returns how many. */
export async function expireIdempotencyKeys(pool: PgPool, ttlHours: number, maxRows = 10_000): Promise<number> {
  const { rows } = await pool.query<{ deleted: string }>(
    'SELECT ingest_expire_idempotency_keys(make_interval(hours => $1), $2) AS deleted',
    [ttlHours, maxRows],
  );
  return Number(rows[0]?.deleted ?? 0);
}
