// The SVG's script in a real headless chromium (Debian's, through puppeteer): zoom, reset,
// search by button, Ctrl-F and ?s=, zoom from ?x=, tooltips, and hostile names that must never
// run. Fails under CI=true when chromium is missing. ~8 s.
import t, { type Test } from 'tap';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'puppeteer';
import { writeProfile } from '../../src/output/index.js';
import { readFolded } from '../../src/profile/folded.js';
import { launchBrowser, recordedPage, requireBrowser, type PageRecord, type TestBrowser } from '../helpers/browser.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'render');

async function svgFile(dir: string, fixture: string): Promise<string> {
  const input = join(FIXTURES, fixture);
  const out = join(dir, fixture.replace(/\.folded$/, '.svg'));
  await writeProfile(await readFolded(createReadStream(input), input), { path: out });
  return pathToFileURL(out).href;
}

interface FrameState {
  readonly name: string;
  readonly x: number;
  readonly width: number;
  readonly fill: string;
  readonly hidden: boolean;
  readonly parent: boolean;
}

async function frameStates(page: Page): Promise<FrameState[]> {
  return page.$$eval('#frames > g', (groups) =>
    groups.map((g) => {
      const rect = g.querySelector('rect')!;
      const title = g.querySelector('title')!.textContent!;
      return {
        name: title.slice(0, title.lastIndexOf(' (')),
        x: Number(rect.getAttribute('x')),
        width: Number(rect.getAttribute('width')),
        fill: rect.getAttribute('fill')!,
        hidden: g.classList.contains('hide'),
        parent: g.classList.contains('parent'),
      };
    }),
  );
}

async function clickFrame(page: Page, name: string): Promise<void> {
  const handles = await page.$$('#frames > g');
  for (const g of handles) {
    const title = await g.$eval('title', (el) => el.textContent!);
    if (title.startsWith(`${name} (`)) {
      const rect = (await g.$('rect'))!;
      await rect.click();
      return;
    }
  }
  throw new Error(`no frame ${name}`);
}

async function open(browser: Browser, url: string): Promise<{ page: Page; record: PageRecord }> {
  const { page, record } = await recordedPage(browser, url.replace(/\?.*/, ''));
  await page.goto(url, { waitUntil: 'load' });
  return { page, record };
}

function clean(t: Pick<Test, 'same'>, record: PageRecord, own: string): void {
  t.same(record.consoleErrors, [], 'no console errors');
  t.same(record.pageErrors, [], 'no page errors');
  // The page's own file, with whatever query it was opened with, is the only thing loaded.
  t.same(record.requests.filter((url) => url.replace(/\?.*/, '') !== own), [], 'no network requests');
}

t.test('SVG in chromium', async (t) => {
  if (!requireBrowser(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'profile-svg-browser-'));
  let tb: TestBrowser | undefined;
  t.teardown(async () => {
    await tb?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  tb = await launchBrowser();
  const browser = tb.browser;
  const small = await svgFile(dir, 'small.folded');
  const hostile = await svgFile(dir, 'hostile.folded');

  await t.test('click zooms into a frame and its subtree, reset restores', async (t) => {
    const { page, record } = await open(browser, small);
    const before = await frameStates(page);
    const uvRun = before.find((f) => f.name === 'uv_run')!;
    await clickFrame(page, 'uv_run');
    const after = await frameStates(page);
    const ratio = 1180 / uvRun.width;
    const zoomed = after.find((f) => f.name === 'uv_run')!;
    t.equal(zoomed.x, 10);
    t.equal(zoomed.width, 1180, 'the clicked frame fills the width');
    const timers = before.find((f) => f.name === 'uv__run_timers')!;
    const timersAfter = after.find((f) => f.name === 'uv__run_timers')!;
    t.ok(Math.abs(timersAfter.width - timers.width * ratio) < 0.01, `a child scales by ${ratio.toFixed(3)}`);
    t.ok(Math.abs(timersAfter.x - ((timers.x - uvRun.x) * ratio + 10)) < 0.01, 'and moves with it');
    t.ok(after.find((f) => f.name === 'node')!.parent, 'ancestors are dimmed');
    t.equal(after.find((f) => f.name === 'node')!.width, 1180, 'ancestors span the width');
    t.ok(after.find((f) => f.name === 'bash')!.hidden, 'frames outside are hidden');
    t.ok(after.find((f) => f.name === 'swapper')!.hidden);
    t.notOk(await page.$eval('#unzoom', (el) => el.classList.contains('hide')), 'Reset Zoom shown');
    t.match(page.url(), /\?x=\d+$/, 'zoom state in the URL');
    const label = await page.$$eval('#frames > g', (gs) => gs.map((g) => g.querySelector('text')!.textContent).find((x) => x?.startsWith('uv__io')));
    t.equal(label, 'uv__io_poll', 'labels refit to the new width');
    await page.click('#unzoom');
    t.same(await frameStates(page), before, 'reset restores every frame');
    t.ok(await page.$eval('#unzoom', (el) => el.classList.contains('hide')));
    // The URL zoom is restored on load.
    const zoomUrl = `${small}?x=${before.findIndex((f) => f.name === 'uv_run')}`;
    const again = await open(browser, zoomUrl);
    t.equal((await frameStates(again.page)).find((f) => f.name === 'uv_run')!.width, 1180, '?x= zooms on load');
    clean(t, record, small);
    clean(t, again.record, small);
    await page.close();
    await again.page.close();
  });

  await t.test('?s= searches on load: matched frames highlighted, matched percentage shown', async (t) => {
    const { page, record } = await open(browser, `${small}?s=${encodeURIComponent('^uv')}`);
    const states = await frameStates(page);
    const purple = states.filter((f) => f.fill === 'rgb(230,0,230)').map((f) => f.name);
    t.same(purple.sort(), ['uv__io_poll', 'uv__run_timers', 'uv_run']);
    // uv_run holds the others: 78 of 168 samples.
    t.equal(await page.$eval('#matched', (el) => el.textContent), 'Matched: 46.4%');
    t.equal(await page.$eval('#search', (el) => el.textContent), 'Reset Search');
    await page.click('#search');
    t.equal((await frameStates(page)).filter((f) => f.fill === 'rgb(230,0,230)').length, 0, 'reset search restores colours');
    t.equal(await page.$eval('#matched', (el) => el.textContent), ' ');
    clean(t, record, small);
    await page.close();
  });

  await t.test('Ctrl-F and the Search button prompt for a regex', async (t) => {
    const page = await browser.newPage();
    const prompts: string[] = [];
    const answers = ['_idle', 'wait$'];
    page.on('dialog', (dialog) => {
      prompts.push(dialog.type());
      void dialog.accept(answers.shift() ?? '');
    });
    await page.goto(small, { waitUntil: 'load' });
    await page.keyboard.down('Control');
    await page.keyboard.press('f');
    await page.keyboard.up('Control');
    await page.waitForFunction(() => document.getElementById('matched')!.textContent !== ' ');
    // do_idle 61 (default_idle_call 60 inside it is not counted twice) of 168.
    t.equal(await page.$eval('#matched', (el) => el.textContent), 'Matched: 36.3%');
    t.equal((await frameStates(page)).filter((f) => f.fill === 'rgb(230,0,230)').length, 2, 'do_idle and default_idle_call');
    await page.click('#search'); // resets
    await page.click('#search'); // prompts again
    await page.waitForFunction(() => document.getElementById('matched')!.textContent !== ' ');
    t.equal(await page.$eval('#matched', (el) => el.textContent), 'Matched: 31.0%', 'do_wait 12 + epoll_wait 40 (its do_epoll_wait counted once) of 168');
    t.same(prompts, ['prompt', 'prompt']);
    await page.close();
  });

  await t.test('hovering shows the tooltip text in the details line', async (t) => {
    const { page, record } = await open(browser, small);
    const rect = (await page.$$('#frames > g > rect'))[1]!;
    await rect.hover();
    t.match(await page.$eval('#details', (el) => el.textContent), /^Function: \S+ \(\d+ samples, [\d.]+%\)$/);
    clean(t, record, small);
    await page.close();
  });

  await t.test('hostile names never run: no alert, no injected element, the page still works', async (t) => {
    const { page, record } = await recordedPage(browser, hostile);
    await page.evaluateOnNewDocument(() => {
      (window as unknown as { __alerts: number }).__alerts = 0;
      window.alert = () => void ((window as unknown as { __alerts: number }).__alerts += 1);
    });
    await page.goto(`${hostile}?s=${encodeURIComponent('.')}`, { waitUntil: 'load' });
    for (const rect of await page.$$('#frames > g > rect')) await rect.hover();
    await clickFrame(page, 'evil&lt;img src=x onerror=alert(1)&gt;'.replaceAll('&lt;', '<').replaceAll('&gt;', '>'));
    await page.click('#unzoom');
    const state = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: number }).__pwned,
      alerts: (window as unknown as { __alerts: number }).__alerts,
      scripts: document.querySelectorAll('script').length,
      injected: document.querySelectorAll('img, x-evil, foreignObject').length,
      labels: [...document.querySelectorAll('#frames text')].map((e) => e.textContent),
    }));
    t.equal(state.pwned, undefined, 'script from a name did not run');
    t.equal(state.alerts, 0, 'no alert');
    t.equal(state.scripts, 1, 'only our script element');
    t.equal(state.injected, 0, 'no element made from a name');
    t.ok(state.labels.includes('<img src=x onerror=alert(1)>') || state.labels.some((l) => l?.startsWith('evil<img')), 'names shown as text');
    t.same(record.dialogs, []);
    t.match(await page.$eval('#matched', (el) => el.textContent), /^Matched: 100%$/, 'search still works');
    clean(t, record, hostile);
    await page.close();
  });
});
