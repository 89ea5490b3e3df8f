import { TENANT_CHANGED_CHANNEL, tenantChangedSchema } from '@coherence/contracts';
import type { Logger, PgClient, PgPool } from '@coherence/platform';

export interface TenantChangeListenerOptions {
  /** The pool one connection is taken from and kept for LISTEN while the listener runs (the primary: a standby cannot LISTEN). */
  pool: PgPool;
  logger: Pick<Logger, 'warn'>;
  /** A tenant changed (TenantChanged): drop what is cached of it. */
  onChange(tenantId: string): void;
  /** Notifications may have been missed (the connection was lost, or is new): drop everything cached. */
  onResync(): void;
  /** Wait before connecting again after a loss. Default 1_000 ms. */
  retryMs?: number;
}

/**
 * Consumes `TenantChanged` (a NOTIFY the tenant-admin store sends in the
 * transaction of each change; docs/adr/0031-tenant-administration.md), so a
 * change is served at once instead of after the cache's TTL. While the
 * connection is down nothing is heard, so every (re)connection resyncs: the
 * caller forgets everything, and the TTL stays the bound if LISTEN is
 * impossible for a while.
 */
export function listenForTenantChanges(options: TenantChangeListenerOptions) {
  const retryMs = options.retryMs ?? 1_000;
  let client: PgClient | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  function onNotification(message: { channel: string; payload?: string }): void {
    if (message.channel !== TENANT_CHANGED_CHANNEL) return;
    // Any role may NOTIFY on any channel: a payload that is not JSON must not throw in this event handler (it would
    // end the process, for every tenant). A notice we cannot read names no tenant we could forget alone: forget them all.
    const parsed = tenantChangedSchema.safeParse(parseJson(message.payload));
    if (parsed.success) options.onChange(parsed.data.tenantId);
    else options.onResync();
  }

  function lost(connection: PgClient, error: unknown): void {
    if (client !== connection) return;
    client = undefined;
    connection.release(error instanceof Error ? error : true);
    if (closed) return;
    options.logger.warn({ err: error }, 'TenantChanged LISTEN connection lost; tenants are cached for their TTL until it is back');
    retry = setTimeout(() => void connect(), retryMs);
  }

  async function connect(): Promise<void> {
    let connection: PgClient | undefined;
    try {
      connection = await options.pool.connect();
      client = connection;
      connection.on('notification', onNotification);
      const taken = connection;
      connection.on('error', (error) => lost(taken, error));
      await connection.query(`LISTEN ${TENANT_CHANGED_CHANNEL}`);
      options.onResync();
    } catch (error) {
      if (connection) lost(connection, error);
      else if (!closed) {
        options.logger.warn({ err: error }, 'TenantChanged LISTEN connection failed; retrying');
        retry = setTimeout(() => void connect(), retryMs);
      }
    }
  }

  const started = connect();

  return {
    /** Resolves once the first LISTEN was attempted (tests wait for it before changing a tenant). */
    started,
    async close(): Promise<void> {
      closed = true;
      clearTimeout(retry);
      await started;
      const connection = client;
      client = undefined;
      connection?.release(true);
    },
  };
}

function parseJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? 'null');
  } catch {
    return undefined;
  }
}
