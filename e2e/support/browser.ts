import AxeBuilder from '@axe-core/playwright';
import { chromiumArgs, ensureChromium } from '@coherence/devservices/chromium';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where the Workbench's screenshots go for review (git-ignored; docs/testing-browser.md). */
export const screenshotDir = join(import.meta.dirname, '..', '..', 'reports', 'workbench');

/** The widths the Workbench must be usable at (issue 19): a phone and a desktop. */
export const viewportWidths = [375, 1440] as const;

/**
 * Debian's Chromium driven by playwright-core. `launch` gives every browser a
 * fresh temporary profile, so no state leaks between runs.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: await ensureChromium(), args: [...chromiumArgs] });
}

/** axe's findings on the page as it is now, only those of serious or critical impact. */
export async function seriousAccessibilityViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
}

/** Full-page screenshots of the view at each width, as `<view>-<width>.png`; the viewport is left at the last width. */
export async function screenshotView(page: Page, view: string): Promise<string[]> {
  mkdirSync(screenshotDir, { recursive: true });
  const files: string[] = [];
  for (const width of viewportWidths) {
    await page.setViewportSize({ width, height: 900 });
    const file = join(screenshotDir, `${view}-${width}.png`);
    await page.screenshot({ path: file, fullPage: true });
    files.push(file);
  }
  return files;
}
