import { describe, expect, it } from 'vitest';
import { createGatewayFetch } from './gatewayFetch';
import { RefusalError } from './refusals';
import { retryDelayMs } from './retryAfter';

/** A gateway stand-in that answers from a script and counts the requests that reached it. */
function scripted(answers: (() => Response)[]) {
  const calls: string[] = [];
  const fetchImpl = (async (input: RequestInfo | URL) => {
    calls.push(String(input));
    const next = answers.shift();
    if (next === undefined) throw new Error('no more answers');
    return next();
  }) as typeof fetch;
  return { calls, fetchImpl };
}

const rateLimited = (seconds: string) => () =>
  new Response(JSON.stringify({ errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED' } }] }), {
    status: 429,
    headers: { 'retry-after': seconds, 'content-type': 'application/json' },
  });
const ok = () => new Response('{"data":{}}', { status: 200 });

describe('the gateway fetch', () => {
  it('throws a typed refusal for a non-2xx answer and passes 2xx through', async () => {
    const { fetchImpl } = scripted([ok, rateLimited('2')]);
    const gatewayFetch = createGatewayFetch({ fetch: fetchImpl, now: () => 0 });
    expect((await gatewayFetch('/graphql')).status).toBe(200);
    const error = await gatewayFetch('/graphql').catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(RefusalError);
    expect((error as RefusalError).refusal).toMatchObject({ status: 429, code: 'RATE_LIMITED', retryAfterSeconds: 2 });
  });

  it('after a 429 sends nothing until Retry-After has passed, then asks again', async () => {
    let now = 1_000;
    const { calls, fetchImpl } = scripted([rateLimited('5'), ok]);
    const gatewayFetch = createGatewayFetch({ fetch: fetchImpl, now: () => now });
    await expect(gatewayFetch('/graphql')).rejects.toBeInstanceOf(RefusalError);

    now += 3_500;
    const held = await gatewayFetch('/graphql').catch((failure: unknown) => failure);
    expect((held as RefusalError).refusal).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 2 });
    expect(calls).toHaveLength(1);
    expect(retryDelayMs(held)).toBe(2_000);

    now += 1_500;
    expect((await gatewayFetch('/graphql')).status).toBe(200);
    expect(calls).toHaveLength(2);
  });

  it('does not hold requests after a refusal without a delay', async () => {
    const forbidden = () => new Response('{"errors":[{"message":"no","extensions":{"code":"FORBIDDEN"}}]}', { status: 403 });
    const { calls, fetchImpl } = scripted([forbidden, ok]);
    const gatewayFetch = createGatewayFetch({ fetch: fetchImpl, now: () => 0 });
    const error = await gatewayFetch('/graphql').catch((failure: unknown) => failure);
    expect(retryDelayMs(error)).toBeUndefined();
    expect((await gatewayFetch('/graphql')).status).toBe(200);
    expect(calls).toHaveLength(2);
  });
});
