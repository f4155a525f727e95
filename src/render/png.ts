import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProfileError } from '../errors.js';
import type { ProfileWriter } from '../output/writer.js';
import type { Profile } from '../profile/model.js';

export interface PngOptions {
  /** What to photograph: the static SVG flame graph or the HTML report's page. Default `svg`. */
  readonly source: 'svg' | 'html';
  /** The browser. Default `CHROMIUM` (Debian's package; puppeteer never downloads one). */
  readonly executablePath: string;
  /** Device pixels per CSS pixel (2 for a sharper image). Default 1. */
  readonly scale: number;
  /** Viewport width for the HTML report, in CSS pixels. Default 1400. */
  readonly viewportWidth: number;
}

/**
 * The browser puppeteer drives: Debian's chromium unless PUPPETEER_EXECUTABLE_PATH (puppeteer's
 * own override) or PROFILE_CHROMIUM names another. Puppeteer's download is skipped (.puppeteerrc.cjs).
 */
export const CHROMIUM = process.env.PUPPETEER_EXECUTABLE_PATH || process.env.PROFILE_CHROMIUM || '/usr/bin/chromium';

export const PNG_DEFAULTS: PngOptions = Object.freeze({
  source: 'svg',
  executablePath: CHROMIUM,
  scale: 1,
  viewportWidth: 1400,
});

// Without the networking flags chromium keeps trying to reach the network (docs/decisions.md);
// --no-sandbox because the profiler runs as root, where chromium's sandbox refuses to start.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Renders SVG or HTML markup in headless chromium and returns a PNG of it. */
export async function markupToPng(markup: string, kind: 'svg' | 'html', options: Partial<PngOptions> = {}): Promise<Uint8Array> {
  const opts = { ...PNG_DEFAULTS, ...options };
  if (!existsSync(opts.executablePath)) {
    throw new ProfileError(`PNG output needs chromium, not found at ${opts.executablePath}; install chromium: apt-get install chromium`);
  }
  const { default: puppeteer } = await import('puppeteer');
  const dir = await mkdtemp(join(tmpdir(), 'profile-png-'));
  const browser = await puppeteer.launch({
    executablePath: opts.executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS, `--user-data-dir=${join(dir, 'chromium')}`],
  }).catch((error: Error) => {
    throw new ProfileError(`cannot start chromium (${opts.executablePath}): ${error.message.split('\n')[0]}`);
  });
  try {
    const page = await browser.newPage();
    // Everything the page needs is inline; refuse anything else so a PNG never touches the network.
    await page.setRequestInterception(true);
    page.on('request', (request) => (request.url().startsWith('file:') || request.url().startsWith('data:') ? request.continue() : request.abort()));
    await page.setViewport({ width: opts.viewportWidth, height: 800, deviceScaleFactor: opts.scale });
    const file = join(dir, kind === 'svg' ? 'graph.svg' : 'report.html');
    await writeFile(file, markup);
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    if (kind === 'html') {
      await page.waitForSelector('html[data-ready="true"]', { timeout: 30_000 });
      return await page.screenshot({ type: 'png', fullPage: true });
    }
    const svg = await page.$('svg');
    if (!svg) throw new ProfileError('the SVG did not render in chromium');
    return await svg.screenshot({ type: 'png' });
  } finally {
    await browser.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function markupOf(profile: Profile, source: 'svg' | 'html', render: Readonly<Record<string, unknown>>): Promise<string> {
  const { stringSink } = await import('../io/sink.js');
  const sink = stringSink();
  if (source === 'html') {
    const { writeHtml } = await import('./html/index.js');
    await writeHtml(profile, sink, { render });
  } else {
    const { writeSvg } = await import('./svg/index.js');
    // Deterministic: no script, nothing interactive to show in a still image.
    await writeSvg(profile, sink, { ...(render as object), deterministic: true });
  }
  return sink.text();
}

/** Writer for `-o x.png`: `render.png` may hold `Partial<PngOptions>`. */
export const writePng: ProfileWriter = async (profile, sink, options) => {
  const render = options.render ?? {};
  const png = (render.png ?? {}) as Partial<PngOptions>;
  const source = png.source ?? PNG_DEFAULTS.source;
  await sink.write(await markupToPng(await markupOf(profile, source, render), source, png));
};
