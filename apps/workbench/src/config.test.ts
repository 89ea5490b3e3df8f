import { describe, expect, it } from 'vitest';
import { loadConfig } from './config';

const answer =
  (body: unknown, status = 200) =>
  async () =>
    new Response(JSON.stringify(body), { status });

describe('loadConfig', () => {
  it('reads the gateway URLs and whether dev sign-in is on', async () => {
    await expect(
      loadConfig(answer({ gatewayUrl: 'http://127.0.0.1:4000', gatewayWsUrl: 'ws://127.0.0.1:4000/graphql', devSignIn: true })),
    ).resolves.toEqual({ gatewayUrl: 'http://127.0.0.1:4000', gatewayWsUrl: 'ws://127.0.0.1:4000/graphql', devSignIn: true });
  });

  it('treats anything but true as no dev sign-in', async () => {
    const config = await loadConfig(
      answer({ gatewayUrl: 'https://api.example', gatewayWsUrl: 'wss://api.example/graphql', devSignIn: 'yes' }),
    );
    expect(config.devSignIn).toBe(false);
  });

  it('refuses a missing file and URLs of the wrong scheme', async () => {
    await expect(loadConfig(answer({}, 404))).rejects.toThrow('/config.json answered 404');
    await expect(loadConfig(answer({ gatewayUrl: 'javascript:alert(1)', gatewayWsUrl: 'ws://x/graphql' }))).rejects.toThrow('gatewayUrl');
    await expect(loadConfig(answer({ gatewayUrl: 'http://x', gatewayWsUrl: 'http://x/graphql' }))).rejects.toThrow('gatewayWsUrl');
    await expect(loadConfig(answer({ gatewayUrl: 'not a url', gatewayWsUrl: 'ws://x/graphql' }))).rejects.toThrow('gatewayUrl');
  });
});
