import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import { inClientSpan, traceHeadersOf } from '@coherence/telemetry';
import { Agent, request } from 'undici';

export type Fetcher = NonNullable<NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher']>;

/**
 * Apollo's fetcher for the subgraph calls, over undici's `request` with one
 * keep-alive agent: a call is one write of headers and body and no WHATWG
 * stream on either side, where Apollo's default (make-fetch-happen) takes a
 * stack trace per call and Node's `fetch` writes the body as a stream
 * (docs/adr/0033-subgraph-fetch.md).
 *
 * The gateway runs without library instrumentations (docs/adr/0020-traces.md),
 * so each call is traced here: a client span `POST` in a sampled request, and
 * in every request the `traceparent` and `baggage` that continue its trace in
 * the subgraph.
 */
export interface SubgraphFetcher {
  /** Apollo's fetcher, for calls that go alone. */
  fetcher: Fetcher;
  /** Posts a batched call's JSON body (docs/adr/0037-batched-subgraph-calls.md); its status and body text. */
  postBatch: (url: string, headers: Record<string, string>, body: string) => Promise<{ status: number; body: string }>;
  close: () => Promise<void>;
}

/** A call's client span, described only for a call in a sampled trace: most calls are in none. */
const describeCall = (url: string) => () => {
  const { hostname, port } = new URL(url);
  return {
    name: 'POST',
    attributes: { 'http.request.method': 'POST', 'url.full': url, 'server.address': hostname, 'server.port': Number(port || 80) },
  };
};

export function createSubgraphFetcher(options: { timeoutMs: number }): SubgraphFetcher {
  // A subgraph that accepts the call and never answers would otherwise hold the read for undici's default of 5 minutes.
  // Its timeout errors (UND_ERR_HEADERS_TIMEOUT, UND_ERR_BODY_TIMEOUT) count as unreachable: SERVICE_UNAVAILABLE.
  const agent = new Agent({ headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs });
  const fetcher: Fetcher = (url, init) =>
    inClientSpan(describeCall(url), async (span) => {
      const headers = { ...init?.headers, ...traceHeadersOf() };
      const answer = await request(url, { method: 'POST', ...init, headers, dispatcher: agent });
      span?.setAttribute('http.response.status_code', answer.statusCode);
      const responseHeaders = new Headers();
      for (const [name, value] of Object.entries(answer.headers))
        for (const one of Array.isArray(value) ? value : [value]) if (one !== undefined) responseHeaders.append(name, one);
      // Apollo reads the status, a header or two and the body as JSON or text: a Response over the bytes has them all.
      return new Response(await answer.body.arrayBuffer(), { status: answer.statusCode, headers: responseHeaders });
    });
  const postBatch: SubgraphFetcher['postBatch'] = (url, headers, body) =>
    inClientSpan(describeCall(url), async (span) => {
      const answer = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers, ...traceHeadersOf() },
        body,
        dispatcher: agent,
      });
      span?.setAttribute('http.response.status_code', answer.statusCode);
      return { status: answer.statusCode, body: await answer.body.text() };
    });
  return { fetcher, postBatch, close: () => agent.close() };
}
