import { afterEach, describe, expect, it, vi } from 'vitest';
import { isProduction, keepingNodeEnv } from './config';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('keepingNodeEnv', () => {
  it('undoes a build setting NODE_ENV=production, so the dev stack can still serve dev tokens after building', async () => {
    vi.stubEnv('NODE_ENV', undefined);
    const result = await keepingNodeEnv(async () => {
      vi.stubEnv('NODE_ENV', 'production'); // what Vite's build does when NODE_ENV is unset
      return isProduction();
    });
    expect(result).toBe(true);
    expect(isProduction()).toBe(false);
  });

  it('keeps a production NODE_ENV as it was, also when the work fails', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    await expect(
      keepingNodeEnv(async () => {
        vi.stubEnv('NODE_ENV', 'development');
        throw new Error('build failed');
      }),
    ).rejects.toThrow('build failed');
    expect(isProduction()).toBe(true);
  });
});
