import { useState, type FormEvent } from 'react';
import { Link, navigate } from './router';
import { useSession } from './session';
import { DevSignIn, PasteToken } from './SignIn';

/** Signed out: the sign-in forms. Signed in: the tenants to open. */
export function HomeView({ devSignIn, tenants }: { devSignIn: boolean; tenants: string[] }) {
  const { session } = useSession();
  const [other, setOther] = useState('');
  if (session === undefined) {
    return (
      <div className="forms">
        {devSignIn ? <DevSignIn tenants={tenants} /> : null}
        <PasteToken />
      </div>
    );
  }
  const known = [...new Set([session.tenant, ...tenants].filter((id) => id !== ''))];
  const open = (event: FormEvent) => {
    event.preventDefault();
    if (other.trim() !== '') navigate(`/tenants/${encodeURIComponent(other.trim())}`);
  };
  return (
    <section aria-labelledby="tenants-heading">
      <h2 id="tenants-heading">Tenants</h2>
      <ul aria-label="Tenants" className="tenants">
        {known.map((id) => (
          <li key={id}>
            <Link to={`/tenants/${encodeURIComponent(id)}`}>{id}</Link>
          </li>
        ))}
      </ul>
      <form aria-label="Open a tenant" onSubmit={open}>
        <label htmlFor="other-tenant">Tenant id</label>
        <input id="other-tenant" value={other} onChange={(event) => setOther(event.target.value)} />
        <button type="submit">Open</button>
      </form>
    </section>
  );
}
