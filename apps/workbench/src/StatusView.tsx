import { useCallback, useEffect, useState } from 'react';
import type { WorkbenchConfig } from './config';
import { persistedIdOf } from './operations';
import { RefusalAlert } from './RefusalAlert';
import { RefusalError, refusalOf } from './refusals';
import { useRetryAfter } from './retryAfter';
import { useSession } from './session';

export interface GatewayStatus {
  region: string | undefined;
  flags: Map<string, string>;
}

/** The gateway's `x-coherence-flags` header, e.g. "v24.coherence=on, region-routing=off" (docs/adr/0030-workbench-app.md). */
export function parseFlagsHeader(header: string | null): Map<string, string> {
  const flags = new Map<string, string>();
  for (const part of (header ?? '').split(',')) {
    const [name, state] = part.split('=').map((piece) => piece.trim());
    if (name && state) flags.set(name, state);
  }
  return flags;
}

const FLAGS = ['v24.coherence', 'region-routing'];

/**
 * How the gateway sees its flags and which region answered, read from the
 * headers of an answer to the tenant read (any answer carries them, a
 * FEATURE_DISABLED refusal too).
 */
export function StatusView({ config }: { config: WorkbenchConfig }) {
  const { session } = useSession();
  const [status, setStatus] = useState<GatewayStatus>();
  const [error, setError] = useState<unknown>();

  const load = useCallback(async () => {
    setError(undefined);
    const headers = new Headers({ 'content-type': 'application/json' });
    if (session) headers.set('authorization', `Bearer ${session.token}`);
    const body = JSON.stringify({
      operationName: 'TenantCoherence',
      variables: { tenantId: session?.tenant ?? '' },
      extensions: { persistedQuery: { version: 1, sha256Hash: persistedIdOf('TenantCoherence') } },
    });
    // Its own fetch, not Apollo's: a refusal's headers say how the gateway sees the flags too.
    const response = await fetch(`${config.gatewayUrl}/graphql`, { method: 'POST', headers, body }).catch((failure: unknown) => failure);
    if (!(response instanceof Response)) return setError(response);
    setStatus({
      region: response.headers.get('x-coherence-region') ?? undefined,
      flags: parseFlagsHeader(response.headers.get('x-coherence-flags')),
    });
    if (!response.ok)
      setError(new RefusalError(refusalOf(response.status, response.headers, await response.json().catch(() => null), Date.now())));
  }, [config.gatewayUrl, session]);

  useEffect(() => void load(), [load]);
  useRetryAfter(
    error,
    useCallback(() => void load(), [load]),
  );

  return (
    <section aria-labelledby="status-heading">
      <h2 id="status-heading">Status</h2>
      <RefusalAlert error={error} />
      <table aria-label="Gateway flags">
        <thead>
          <tr>
            <th scope="col">Flag</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {FLAGS.map((flag) => (
            <tr key={flag}>
              <th scope="row">{flag}</th>
              <td>{status?.flags.get(flag) ?? 'unknown'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <dl className="facts">
        <dt>Region that answered</dt>
        <dd>{status?.region ?? 'unknown'}</dd>
      </dl>
      <button type="button" onClick={() => void load()}>
        Refresh
      </button>
    </section>
  );
}
