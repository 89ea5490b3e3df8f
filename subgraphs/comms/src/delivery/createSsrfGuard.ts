import ipaddr from 'ipaddr.js';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';

const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

/** Raised when a URL (or a redirect target) resolves to a refused address; the request is never sent there. */
export class UrlBlockedError extends Error {
  constructor(
    readonly url: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`${url} resolves to ${address} (${range}), which deliveries may not reach`);
    this.name = 'UrlBlockedError';
  }
}

export interface SsrfGuardOptions {
  /**
   * CIDRs reachable even though they are not public unicast (e.g. a test
   * receiver on 127.0.0.1/32). Explicit configuration; empty by default.
   */
  allow: readonly string[];
  /** Redirects followed, each checked again. Default 3. */
  maxRedirects?: number;
  /** Bytes of response body kept. Default 8_192. */
  maxBodyBytes?: number;
}

export interface GuardedRequest {
  method: 'POST';
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
}

export interface GuardedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** At most `maxBodyBytes` of the body (the rest is not read). */
  body: string;
  /** Final URL after redirects. */
  url: string;
}

/**
 * Outbound HTTP that cannot be pointed at the inside: every address a host
 * resolves to must be public unicast (loopback, private, link-local — which
 * holds cloud metadata at 169.254.169.254 —, unique-local, CGNAT, reserved,
 * multicast, IPv4-compatible ::/96 and IPv4-mapped/6to4 forms of those are
 * refused) unless it is in
 * the explicit allowlist. The check runs inside the socket's DNS lookup, so
 * the address checked is the address connected to (no re-resolution gap),
 * and again for every redirect hop.
 */
export function createSsrfGuard(options: SsrfGuardOptions) {
  const allowed = options.allow.map((cidr) => ipaddr.parseCIDR(cidr));
  const maxRedirects = options.maxRedirects ?? 3;
  const maxBodyBytes = options.maxBodyBytes ?? 8_192;

  /** The refused range an address falls in, or undefined when it may be reached. */
  function refusedRange(address: string): string | undefined {
    if (!ipaddr.isValid(address)) return 'invalid';
    const parsed = ipaddr.process(address);
    if (allowed.some(([net, bits]) => net.kind() === parsed.kind() && parsed.match(net, bits))) return undefined;
    const range = parsed.range();
    if (range !== 'unicast') return range;
    // ipaddr.js calls the deprecated IPv4-compatible block ::/96 (e.g.
    // ::127.0.0.1) unicast (only :: and ::1 in it get their own range); some
    // stacks still route it to the embedded IPv4 address.
    return parsed.kind() === 'ipv6' && parsed.match(IPV4_COMPATIBLE) ? 'ipv4Compatible' : undefined;
  }

  function guardedLookup(url: string): LookupFunction {
    return (hostname, lookupOptions, callback) => {
      dnsLookup(hostname, { all: true, family: lookupOptions.family ?? 0 }, (err, addresses: LookupAddress[]) => {
        if (err) return callback(err, '', 0);
        const refused = addresses.map((a) => ({ a, range: refusedRange(a.address) })).find((r) => r.range !== undefined);
        if (refused) return callback(new UrlBlockedError(url, refused.a.address, refused.range!), '', 0);
        if (lookupOptions.all) return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
        const first = addresses[0]!;
        return callback(null, first.address, first.family);
      });
    };
  }

  function once(url: URL, request: GuardedRequest, method: string, withBody: boolean): Promise<GuardedResponse> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return Promise.reject(new UrlBlockedError(url.href, url.host, `scheme ${url.protocol}`));
    // Node does not call `lookup` for IP literals, so those are checked here.
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal)) {
      const range = refusedRange(literal);
      if (range) return Promise.reject(new UrlBlockedError(url.href, literal, range));
    }
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(
        url,
        {
          method,
          headers: withBody ? { ...request.headers, 'content-length': Buffer.byteLength(request.body).toString() } : request.headers,
          lookup: guardedLookup(url.href),
          signal: request.signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          const finish = () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), url: url.href });
          res.on('data', (chunk: Buffer) => {
            if (kept < maxBodyBytes) chunks.push(chunk.subarray(0, maxBodyBytes - kept));
            kept += chunk.length;
            // Enough kept: stop reading a body that may be huge.
            if (kept >= maxBodyBytes) {
              res.destroy();
              finish();
            }
          });
          res.on('end', finish);
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(withBody ? request.body : undefined);
    });
  }

  return {
    refusedRange,

    /** Sends `request` to `url`, following redirects through the same checks. Rejects with {@link UrlBlockedError} or a network error. */
    async send(url: string, request: GuardedRequest): Promise<GuardedResponse> {
      let target = new URL(url);
      let method: string = request.method;
      for (let hop = 0; ; hop += 1) {
        const response = await once(target, request, method, method === 'POST');
        const location = response.headers.location;
        if (response.status < 300 || response.status >= 400 || !location || hop >= maxRedirects) return response;
        target = new URL(location, target);
        // 307/308 repeat the request; the others turn it into a GET, as browsers and fetch do.
        if (response.status !== 307 && response.status !== 308) method = 'GET';
      }
    },
  };
}

export type SsrfGuard = ReturnType<typeof createSsrfGuard>;
