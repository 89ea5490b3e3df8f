/** What the static server tells the app at `/config.json`, so one build works against any gateway (docs/adr/0030-workbench-app.md). */
export interface WorkbenchConfig {
  /** The gateway's HTTP origin, e.g. http://127.0.0.1:4000. */
  gatewayUrl: string;
  /** Its graphql-ws endpoint, e.g. ws://127.0.0.1:4000/graphql. */
  gatewayWsUrl: string;
  /** True when the server mints dev tokens (`/dev/token`): only in the dev stack. */
  devSignIn: boolean;
}

function isUrlWithScheme(value: unknown, schemes: readonly string[]): value is string {
  if (typeof value !== 'string') return false;
  try {
    return schemes.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Reads and checks `/config.json`; a config that is missing or malformed stops the app with a readable error. */
export async function loadConfig(fetchConfig: () => Promise<Response>): Promise<WorkbenchConfig> {
  const response = await fetchConfig();
  if (!response.ok) throw new Error(`/config.json answered ${response.status}`);
  const body = (await response.json()) as Partial<Record<keyof WorkbenchConfig, unknown>>;
  if (!isUrlWithScheme(body.gatewayUrl, ['http:', 'https:'])) throw new Error('/config.json: gatewayUrl is not an http(s) URL');
  if (!isUrlWithScheme(body.gatewayWsUrl, ['ws:', 'wss:'])) throw new Error('/config.json: gatewayWsUrl is not a ws(s) URL');
  return { gatewayUrl: body.gatewayUrl, gatewayWsUrl: body.gatewayWsUrl, devSignIn: body.devSignIn === true };
}
