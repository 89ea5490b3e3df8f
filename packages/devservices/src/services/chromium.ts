import { ensureDebianPackages } from './debianPackages';

const debianChromium = '/usr/bin/chromium';

/**
 * The Chromium the browser tests drive with playwright-core (docs/testing-browser.md).
 * `COHERENCE_CHROMIUM` points at another binary; otherwise Debian's `chromium`
 * is installed with apt-get the first time a machine needs it. Playwright's
 * own browser download is never used: the machine has no route to it.
 */
export async function ensureChromium(): Promise<string> {
  const override = process.env['COHERENCE_CHROMIUM'];
  if (override !== undefined && override !== '') return override;
  await ensureDebianPackages([{ binary: debianChromium, pkg: 'chromium' }]);
  return debianChromium;
}

/**
 * Flags for a headless Chromium on a closed network: without the
 * background-networking ones it dials Google's services, is refused, and
 * stalls; `--no-sandbox` because the tests run as root.
 */
export const chromiumArgs: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
