/** The gateway's HTTP origin and its WebSocket origin (same host, ws: or wss:). */
export function gatewayOrigins(gatewayUrl: string): { http: string; ws: string } {
  const url = new URL(gatewayUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`gatewayUrl must be http(s): ${gatewayUrl}`);
  return { http: url.origin, ws: `${url.protocol === 'https:' ? 'wss:' : 'ws:'}//${url.host}` };
}

/**
 * The pages' CSP: scripts, styles and data from this server only (the build
 * inlines nothing), requests to the gateway only, no framing, no `<base>`
 * (docs/adr/0030-workbench-app.md).
 */
export function contentSecurityPolicy(gatewayUrl: string): string {
  const gateway = gatewayOrigins(gatewayUrl);
  return [
    "default-src 'self'",
    `connect-src 'self' ${gateway.http} ${gateway.ws}`,
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}
