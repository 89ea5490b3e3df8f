import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import { Agent, request } from 'undici';

export type Fetcher = NonNullable<NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher']>;

/**
 * Apollo's fetcher for the subgraph calls, over undici's `request` with one
 * keep-alive agent: a call is one write of headers and body and no WHATWG
 * stream on either side, where Apollo's default (make-fetch-happen) takes a
 * stack trace per call and Node's `fetch` writes the body as a stream
 * (docs/adr/0033-subgraph-fetch.md). The undici instrumentation traces these
 * calls like any other (docs/adr/0020-traces.md).
 */
export function createSubgraphFetcher(): { fetcher: Fetcher; close: () => Promise<void> } {
  const agent = new Agent();
  const fetcher: Fetcher = async (url, init) => {
    const answer = await request(url, { method: 'POST', ...init, dispatcher: agent });
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers))
      for (const one of Array.isArray(value) ? value : [value]) if (one !== undefined) headers.append(name, one);
    // Apollo reads the status, a header or two and the body as JSON or text: a Response over the bytes has them all.
    return new Response(await answer.body.arrayBuffer(), { status: answer.statusCode, headers });
  };
  return { fetcher, close: () => agent.close() };
}
