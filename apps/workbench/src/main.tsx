import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { loadConfig } from './config';
import './styles.css';

/** The demo tenants the dev token endpoint knows (none outside the dev stack). */
async function loadDevTenants(devSignIn: boolean): Promise<string[]> {
  if (!devSignIn) return [];
  const response = await fetch('/dev/tenants');
  return response.ok ? ((await response.json()) as { tenants: string[] }).tenants : [];
}

const root = createRoot(document.getElementById('root')!);
try {
  const config = await loadConfig(() => fetch('/config.json'));
  const tenants = await loadDevTenants(config.devSignIn);
  root.render(
    <StrictMode>
      <App config={config} tenants={tenants} />
    </StrictMode>,
  );
} catch (error) {
  root.render(
    <p role="alert" className="alert">
      The Workbench could not start: {error instanceof Error ? error.message : String(error)} (CONFIG_UNAVAILABLE)
    </p>,
  );
}
