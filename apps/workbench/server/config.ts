/** The one environment fact the server reads: a production process never serves dev tokens (docs/adr/0030-workbench-app.md). */
export const isProduction = (): boolean => process.env['NODE_ENV'] === 'production';

/**
 * Runs `work` and puts NODE_ENV back as it was: Vite's build sets it to
 * `production` in the calling process when unset, which would then refuse the
 * dev stack's dev tokens.
 */
export async function keepingNodeEnv<T>(work: () => Promise<T>): Promise<T> {
  const before = process.env['NODE_ENV'];
  try {
    return await work();
  } finally {
    if (before === undefined) delete process.env['NODE_ENV'];
    else process.env['NODE_ENV'] = before;
  }
}
