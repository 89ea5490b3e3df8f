import { useState, type FormEvent } from 'react';
import { messageOf } from './RefusalAlert';
import { useSession } from './session';

const SCOPES = ['coherence:read:self', 'coherence:read', 'coherence:write:self', 'comms:operate'];

/** Dev sign-in: the workbench's own server mints a dev token (only in the dev stack; docs/adr/0030-workbench-app.md). */
export function DevSignIn({ tenants }: { tenants: string[] }) {
  const { signIn } = useSession();
  const [tenant, setTenant] = useState(tenants[0] ?? '');
  const [scopes, setScopes] = useState<string[]>(['coherence:read:self']);
  const [residency, setResidency] = useState('us');
  const [error, setError] = useState<string>();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    const response = await fetch('/dev/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant, scopes, residency: residency.split(',').map((region) => region.trim()) }),
    }).catch((failure: unknown) => failure);
    if (!(response instanceof Response)) return setError(messageOf(response));
    const body = (await response.json().catch(() => ({}))) as { token?: string; error?: string; code?: string };
    if (!response.ok || body.token === undefined)
      return setError(`${body.error ?? 'no token'} (${body.code ?? `HTTP_${response.status}`})`);
    signIn(body.token);
  };

  const toggle = (scope: string, on: boolean) => setScopes((current) => (on ? [...current, scope] : current.filter((s) => s !== scope)));

  return (
    <form aria-labelledby="dev-sign-in" onSubmit={(event) => void submit(event)}>
      <h2 id="dev-sign-in">Dev sign-in</h2>
      <label htmlFor="dev-tenant">Tenant</label>
      <select id="dev-tenant" value={tenant} onChange={(event) => setTenant(event.target.value)}>
        {tenants.map((id) => (
          <option key={id} value={id}>
            {id}
          </option>
        ))}
      </select>
      <fieldset>
        <legend>Scopes</legend>
        {SCOPES.map((scope) => (
          <label key={scope} className="check">
            <input type="checkbox" checked={scopes.includes(scope)} onChange={(event) => toggle(scope, event.target.checked)} />
            {scope}
          </label>
        ))}
      </fieldset>
      <label htmlFor="dev-residency">Residency</label>
      <input id="dev-residency" value={residency} onChange={(event) => setResidency(event.target.value)} />
      <button type="submit">Sign in</button>
      {error === undefined ? null : (
        <p role="alert" className="alert">
          {error}
        </p>
      )}
    </form>
  );
}

/** Any other deployment: paste a bearer token from your identity provider. */
export function PasteToken() {
  const { signIn } = useSession();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    try {
      signIn(token.trim());
      setToken('');
    } catch (failure) {
      setError(`${failure instanceof Error ? failure.message : 'not a token'} (TOKEN_MALFORMED)`);
    }
  };

  return (
    <form aria-labelledby="paste-token" onSubmit={submit}>
      <h2 id="paste-token">Paste a token</h2>
      <label htmlFor="bearer-token">Bearer token</label>
      <textarea id="bearer-token" value={token} autoComplete="off" spellCheck={false} onChange={(event) => setToken(event.target.value)} />
      <button type="submit">Use token</button>
      {error === undefined ? null : (
        <p role="alert" className="alert">
          {error}
        </p>
      )}
    </form>
  );
}
