/**
 * One headless Debian chromium per test file, driven by puppeteer (its browser download is
 * skipped: .puppeteerrc.cjs). Without chromium the caller gets a skip reason; under CI=true that is a failure,
 * because every HTML/SVG behaviour must be proven in a real browser there.
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page, HTTPRequest } from 'puppeteer';

// The browser and its launch flags are the product's own (src/render/png.ts), so tests drive
// chromium as PNG export does.
import { CHROMIUM, CHROMIUM_ARGS } from '../../src/render/png.js';
import { requires, type Gated } from './requires.js';
export { CHROMIUM, CHROMIUM_ARGS };

export interface TestBrowser {
  readonly browser: Browser;
  close(): Promise<void>;
}

/** Why the browser tests cannot run here, or undefined when chromium is available. */
export function browserUnavailable(): string | undefined {
  if (!existsSync(CHROMIUM)) return `chromium not found at ${CHROMIUM} (apt-get install chromium)`;
  return undefined;
}

/** The gate for a browser test (helpers/requires.ts): skipped locally, failed under CI, without chromium. */
export function requireBrowser(t: Gated): boolean {
  return requires(t, `chromium at ${CHROMIUM} (apt-get install chromium)`, existsSync(CHROMIUM));
}

/** Launches chromium headless with a fresh profile directory that is removed on close. */
export async function launchBrowser(): Promise<TestBrowser> {
  const { default: puppeteer } = await import('puppeteer');
  const userDataDir = mkdtempSync(join(tmpdir(), 'profile-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, `--user-data-dir=${userDataDir}`],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** What a page did that a test may want to assert on. */
export interface PageRecord {
  readonly requests: string[];
  readonly consoleErrors: string[];
  readonly pageErrors: string[];
  readonly dialogs: string[];
}

/**
 * A new page that records every request (other than the page's own file/data URL), console
 * error, uncaught error and dialog (dialogs are dismissed so a stray alert cannot hang a test).
 */
export async function recordedPage(browser: Browser, ownUrl?: string): Promise<{ page: Page; record: PageRecord }> {
  const page = await browser.newPage();
  const record: PageRecord = { requests: [], consoleErrors: [], pageErrors: [], dialogs: [] };
  page.on('request', (request: HTTPRequest) => {
    const url = request.url();
    if (url !== ownUrl && !url.startsWith('data:') && !url.startsWith('about:')) record.requests.push(url);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') record.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => record.pageErrors.push(String((error as Error).message ?? error)));
  page.on('dialog', (dialog) => {
    record.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return { page, record };
}
