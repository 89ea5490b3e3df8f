/** Where an Unleash server answers and the tokens to talk to it; plain data so it can cross from Vitest's global setup to test files. */
export interface UnleashEndpoint {
  /** `http://127.0.0.1:<port>` (the admin UI and `/health`). */
  readonly url: string;
  /** What `unleash-client` takes as `url`: `<url>/api/`. */
  readonly apiUrl: string;
  /** An admin API token (`*:*.<secret>`): creates and flips flags. */
  readonly adminToken: string;
  /** A backend (client) API token for `project`/`environment`: what services read flags with. */
  readonly clientToken: string;
  readonly project: string;
  readonly environment: string;
}

/** The flag variables (@coherence/flags) of a service that reads this server's flags; `refreshMs` short in tests. */
export function unleashClientEnv(endpoint: UnleashEndpoint, refreshMs = 250): Record<string, string> {
  return { UNLEASH_URL: endpoint.apiUrl, UNLEASH_API_TOKEN: endpoint.clientToken, UNLEASH_REFRESH_INTERVAL_MS: String(refreshMs) };
}

export interface UnleashAdmin {
  /** Creates a release flag in the project; false when it already exists. */
  createFlag(name: string): Promise<boolean>;
  /** Turns the flag on or off in the environment (on gives it the standard strategy if it has none). */
  setFlag(name: string, enabled: boolean): Promise<void>;
}

/** The few admin-API calls the tests, the dev stack and the kill-switch drill make, as an operator would. */
export function createUnleashAdmin(endpoint: UnleashEndpoint): UnleashAdmin {
  const projectPath = `${endpoint.url}/api/admin/projects/${encodeURIComponent(endpoint.project)}`;
  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const response = await fetch(path, {
      method,
      headers: { authorization: endpoint.adminToken, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    return response;
  };
  const expectOk = async (response: Response, what: string) => {
    if (!response.ok) throw new Error(`unleash: ${what} answered ${response.status}: ${(await response.text()).slice(0, 500)}`);
  };
  return {
    async createFlag(name) {
      const response = await call('POST', `${projectPath}/features`, { name, type: 'release' });
      if (response.status === 409) return false;
      await expectOk(response, `creating flag ${name}`);
      return true;
    },
    async setFlag(name, enabled) {
      const flagPath = `${projectPath}/features/${encodeURIComponent(name)}/environments/${encodeURIComponent(endpoint.environment)}`;
      if (enabled) {
        const strategies = await call('GET', `${flagPath}/strategies`);
        await expectOk(strategies, `reading the strategies of ${name}`);
        // A flag that is on but has no strategy is on for nobody.
        if (((await strategies.json()) as unknown[]).length === 0) {
          await expectOk(await call('POST', `${flagPath}/strategies`, { name: 'default' }), `adding a strategy to ${name}`);
        }
      }
      await expectOk(await call('POST', `${flagPath}/${enabled ? 'on' : 'off'}`), `turning ${name} ${enabled ? 'on' : 'off'}`);
    },
  };
}
