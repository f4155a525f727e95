// The HTML report (d3-flame-graph) in a real chromium: zoom, search, table sorting and
// highlighting, icicle toggle, processes, metadata, tooltips, keyboard; no console errors and no
// network requests. The first screen, the sandwich view and the level of detail are in
// html-views.test.ts. ~10 s.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'puppeteer';
import { ProfileBuilder } from '../../src/profile/builder.js';
import type { FrameKind } from '../../src/profile/model.js';
import { HTML_DEFAULTS, renderHtml } from '../../src/render/html/index.js';
import { launchBrowser, recordedPage, requireBrowser, type PageRecord, type TestBrowser } from '../helpers/browser.js';

interface DrawnFrame {
  index: number;
  name: string;
  depth: number;
  x: number;
  width: number;
  y: number;
  fill: string;
  fade: boolean;
  matched: boolean;
}

// Two processes with known weights (total 58): bash 17 = main(fork 12 via execute_command, readline 5),
// node 38 = uv_run(epoll_wait 30 kernel, js_fn 8 JIT → inl 8 inline), and 3 in a thread-less stack.
function sampleProfile() {
  const b = new ProfileBuilder();
  const f = (name: string, kind: FrameKind = 'user') => ({ name, kind });
  b.addFrames([f('main'), f('execute_command'), f('fork')], 12, { comm: 'bash', pid: 10 });
  b.addFrames([f('main'), f('readline')], 5, { comm: 'bash', pid: 10 });
  b.addFrames([f('uv_run'), f('epoll_wait', 'kernel')], 30, { comm: 'node', pid: 20 });
  b.addFrames([f('uv_run'), f('js_fn', 'jit'), f('inl', 'inline')], 8, { comm: 'node', pid: 20 });
  b.addFrames([f('orphan')], 3);
  return b.build({
    host: 'build-host-7',
    kernel: '6.18.0-test',
    commandLine: 'profile record --duration 30',
    frequencyHz: 99,
    durationSeconds: 30,
    samples: 61,
    dropped: { 'kernel-stack-collision': 2, 'user-stack-missing': 1 },
    notes: ['libfoo.so: no symbols (stripped)'],
  });
}

const dir = mkdtempSync(join(tmpdir(), 'profile-html-'));
const file = join(dir, 'report.html');
writeFileSync(file, renderHtml(sampleProfile(), { ...HTML_DEFAULTS, title: 'CPU of build-host-7', subtitle: 'thirty seconds' }));
const url = pathToFileURL(file).href;

let browser: TestBrowser | undefined;
let page: Page;
let record: PageRecord;
t.teardown(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

const settled = (): Promise<void> => page.evaluate(() => (window as any).profileReport.settled());
const frames = async (): Promise<DrawnFrame[]> => {
  await settled();
  return page.evaluate(() => (window as any).profileReport.frames());
};
const frame = async (name: string): Promise<DrawnFrame> => {
  const found = (await frames()).find((f) => f.name === name);
  if (!found) throw new Error(`no frame ${name} drawn`);
  return found;
};
const text = (selector: string): Promise<string> => page.$eval(selector, (e) => (e as HTMLElement).innerText);
const columnTexts = (table: string, column: number): Promise<string[]> =>
  page.$$eval(`${table} tbody tr`, (rows, c) => rows.map((r) => (r as HTMLTableRowElement).cells[c as number]!.textContent!), column);
/** The graph's box in the viewport, scrolled into view first (a click on a table row may have scrolled the page). */
async function graphBox(): Promise<{ x: number; y: number }> {
  await page.$eval('#graph', (e) => e.scrollIntoView({ block: 'nearest' }));
  return (await (await page.$('#flame svg'))!.boundingBox())!;
}
async function clickFrame(name: string): Promise<void> {
  const target = await frame(name);
  const box = await graphBox();
  await page.mouse.click(box.x + target.x + target.width / 2, box.y + target.y + 9);
}
/** [r, g, b] of `#rrggbb` or `rgb(r,g,b)`. */
export function rgb(colour: string): number[] {
  if (colour.startsWith('#')) return [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
  return colour.match(/\d+/g)!.map(Number);
}
const graphWidth = (): Promise<number> => page.$eval('#flame svg', (svg) => Number(svg.getAttribute('width')));

t.test('the report opens in chromium', async (t) => {
  if (!requireBrowser(t)) return;
  browser = await launchBrowser();
  ({ page, record } = await recordedPage(browser.browser, url));
  await page.setViewport({ width: 1000, height: 800 });
  await page.goto(url);
  await page.waitForSelector('html[data-ready="true"]');
  t.equal(await page.title(), 'CPU of build-host-7');
  t.equal(await text('#subtitle'), 'thirty seconds');
  t.equal((await frames()).length, 12, 'every frame of the tree is drawn');
  t.end();
});

t.test('metadata, dropped samples, notes and the legend are shown', async (t) => {
  if (!page) return; // the first test failed (CI) or skipped: no browser
  const meta = await text('#meta');
  for (const expected of ['build-host-7', '6.18.0-test', 'profile record --duration 30', '99 Hz', '30.0 s', '61', 'Dropped samples']) {
    t.match(meta, expected);
  }
  t.match(await text('#dropped'), /kernel-stack-collision\s+2/);
  t.match(await text('#notes'), 'libfoo.so: no symbols (stripped)');
  const legend = await page.$$eval('#legend li', (items) => items.map((i) => i.textContent));
  t.same(legend, ['user (native)', 'kernel', 'JIT / JavaScript', 'inlined', 'process', 'merged small frames']);
  t.equal(await text('#summary'), '61 samples · 30.0 s at 99 Hz · 3 processes · 3 dropped (kernel-stack-collision 2, user-stack-missing 1)');
  // Kinds in distinct hue families: user warm (red > blue), kernel blue, JIT green, process purple.
  const fill = async (name: string) => rgb((await frame(name)).fill);
  const [ur, , ub] = await fill('main');
  t.ok(ur! > ub! + 100, 'user frames are warm');
  const [kr, kg, kb] = await fill('epoll_wait');
  t.ok(kb! > kr! + 60 && kb! > kg! + 60, 'kernel frames are blue');
  const [jr, jg, jb] = await fill('js_fn');
  t.ok(jg! > jr! + 60 && jg! > jb! + 60, 'JIT frames are green');
  const [pr, pg, pb] = await fill('bash');
  t.ok(pr! > pg! + 60 && pb! > pg! + 60, 'process frames are purple');
});

t.test('the per-process breakdown lists root frames by weight; a click zooms into one', async (t) => {
  if (!page) return; // the first test failed (CI) or skipped: no browser
  t.same(await columnTexts('#processes', 0), ['node', 'bash', 'orphan']);
  t.same(await columnTexts('#processes', 2), ['65.52%', '29.31%', '5.17%']);
  await page.click('#processes tbody tr:nth-child(2)');
  const bash = await frame('bash');
  t.equal(bash.width, await graphWidth(), 'bash spans the graph');
  t.notOk((await frames()).some((f) => f.name === 'uv_run'), 'other processes are out of view');
  t.equal(await page.$eval('#process', (e) => (e as HTMLSelectElement).value), String(bash.index), 'the process filter follows');
  const bashRows = await columnTexts('#functions', 0);
  t.same(bashRows.slice(0, 2), ['fork', 'readline'], 'the functions table is for bash alone');
  t.same(bashRows.slice(2).sort(), ['execute_command', 'main']);
  t.equal(await text('#functions-scope'), 'in bash');
  // The filter itself: node alone, then everything again.
  t.same(await page.$$eval('#process option', (options) => options.map((o) => o.textContent)), ['All (3)', 'node (65.52%)', 'bash (29.31%)', 'orphan (5.17%)']);
  await page.select('#process', await page.$eval('#process', (e) => (e as HTMLSelectElement).options[1]!.value));
  t.equal((await frame('node')).width, await graphWidth(), 'choosing a process redraws the graph for it');
  t.same((await columnTexts('#functions', 0)).slice(0, 2), ['epoll_wait', 'inl']);
  await page.type('#search', 'uv_run');
  t.equal(await text('#matched'), 'Matched: 100.00% (38 of 38 samples)', 'search shares are of the process shown');
  await page.select('#process', '0');
  t.equal(await text('#matched'), 'Matched: 65.52% (38 of 58 samples)');
  await page.click('#reset');
  t.same((await columnTexts('#functions', 0)).slice(0, 2), ['epoll_wait', 'fork']);
});

t.test('clicking a frame zooms: its width becomes the full width, children scale with it', async (t) => {
  if (!page) return; // the first test failed (CI) or skipped: no browser
  const before = await frame('main');
  const full = (await frame('all')).width;
  t.equal(full, await graphWidth(), 'the root spans the graph');
  t.equal(Math.round(before.width), Math.round((full * 17) / 58));
  await clickFrame('main');
  const state = await page.evaluate(() => (window as any).profileReport.state());
  t.equal(state.zoom, before.index);
  t.equal((await frame('main')).width, full);
  t.ok((await frame('bash')).fade, 'ancestors are faded, as d3-flame-graph shows a zoom');
  t.equal(Math.round((await frame('execute_command')).width), Math.round((full * 12) / 17));
  t.equal(Math.round((await frame('readline')).width), Math.round((full * 5) / 17));
  t.equal((await frame('bash')).width, full, 'ancestors span the width');
  // Labels only on frames wide enough to show one, reused frames included.
  const labels = await page.$$eval('#flame svg > g', (gs) =>
    gs.map((g) => [Number(g.querySelector('rect')!.getAttribute('width')) >= 35, g.querySelector('foreignObject div')?.textContent ?? null, (g as any).__data__.data.name]));
  t.ok(labels.every(([wide, label, name]) => (wide ? label === name : label === null)), 'every wide frame is labelled with its name, no narrow one is');
  await page.mouse.move(0, 0);
  t.match(await text('#details'), /^Zoomed: bash → main$/, 'the details line shows the zoomed path when no frame is hovered');
  await page.click('#reset');
  t.equal(Math.round((await frame('main')).width), Math.round((full * 17) / 58), 'reset restores the widths');
});

t.test('hovering shows a tooltip with samples and percentages', async (t) => {
  if (!page) return; // the first test failed (CI) or skipped: no browser
  const target = await frame('epoll_wait');
  const box = await graphBox();
  await page.mouse.move(box.x + target.x + 5, box.y + target.y + 9);
  const tip = await text('#tooltip');
  t.match(tip, /^epoll_wait\n/);
  t.match(tip, /\nkernel\n/);
  t.match(tip, /30 samples · 51\.72% of all\n/);
  t.match(tip, /self 30 samples \(51\.72%\)/, 'self weight (worked out by the page from the totals)');
  t.notMatch(tip, /zoomed/, 'no share of a zoom when nothing is zoomed');
  t.match(await text('#details'), /epoll_wait \(51\.72%, 30 samples\)/, 'the details line names the hovered frame');
  const main = await frame('main');
  await page.mouse.move(box.x + main.x + 5, box.y + main.y + 9);
  t.match(await text('#tooltip'), /self 0 samples/);
  // Zoomed: the share of the zoomed frame too.
  await clickFrame('uv_run');
  const zoomedBox = await graphBox();
  const epoll = await frame('epoll_wait');
  await page.mouse.move(zoomedBox.x + epoll.x + 5, zoomedBox.y + epoll.y + 9);
  t.match(await text('#tooltip'), /30 samples · 51\.72% of all · 78\.95% of the zoomed frame/);
  await page.mouse.move(0, 0);
  t.equal(await page.$eval('#tooltip', (e) => (e as HTMLElement).hidden), true, 'the tooltip hides when the pointer leaves');
  await page.click('#reset');
});

t.test('search highlights the matching frames with the matched share', async (t) => {
  if (!page) return; // the first test failed (CI) or skipped: no browser
  await page.type('#search', 'main|readline');
  t.equal(await text('#matched'), 'Matched: 29.31% (17 of 58 samples)');
  t.same((await frames()).filter((f) => f.matched).map((f) => f.name).sort(), ['main', 'readline']);
  await page.click('#search', { clickCount: 3 });
  await page.type('#search', '^(fork|epoll_wait)$');
  t.equal(await text('#matched'), 'Matched: 72.41% (42 of 58 samples)');
  await page.click('#search', { clickCount: 3 });
  await page.type('#search', '([');
  t.equal(await text('#matched'), 'invalid regular expression');
  await page.click('#reset');
  t.equal(await text('#matched'), '');
});

t.test('?s=REGEX in the URL pre-fills and applies the search, and the URL follows the search box', async (t) => {
  if (!page) return; // the first test failed (CI) or skipped: no browser
  const searched = `${url}?s=${encodeURIComponent('^(fork|epoll_wait)$')}`;
  const other = await recordedPage(browser!.browser, searched);
  try {
    await other.page.setViewport({ width: 1000, height: 800 });
    await other.page.goto(searched);
    await other.page.waitForSelector('html[data-ready="true"]');
    t.equal(await other.page.$eval('#search', (e) => (e as HTMLInputElement).value), '^(fork|epoll_wait)$');
    t.equal(await other.page.$eval('#matched', (e) => (e as HTMLElement).innerText), 'Matched: 72.41% (42 of 58 samples)');
    await other.page.evaluate(() => (window as any).profileReport.settled());
    const matched = await other.page.evaluate(() => (window as any).profileReport.frames().filter((f: DrawnFrame) => f.matched).map((f: DrawnFrame) => f.name));
    t.same(matched.sort(), ['epoll_wait', 'fork']);
    await other.page.click('#search', { clickCount: 3 });
    await other.page.type('#search', 'readline');
    // The URL follows once typing pauses (replacing history entries costs tens of milliseconds).
    await other.page.waitForFunction(() => new URLSearchParams(location.search).get('s') === 'readline', { timeout: 5000 });
    t.pass('a new search replaces ?s=');
    await other.page.click('#reset');
    await other.page.waitForFunction(() => location.search === '', { timeout: 5000 });
    t.pass('reset clears it');
    // An invalid expression from a link is shown as such; the graph is still drawn.
    const invalid = `${url}?s=${encodeURIComponent('([')}`;
    await other.page.goto(invalid);
    await other.page.waitForSelector('html[data-ready="true"]');
    t.equal(await other.page.$eval('#matched', (e) => (e as HTMLElement).innerText), 'invalid regular expression');
    t.equal(await other.page.evaluate(() => (window as any).profileReport.frames().length), 12);
    t.same(other.record.pageErrors, []);
    t.same(other.record.consoleErrors, []);
    t.same(other.record.requests.filter((r) => r !== invalid), [], 'no network requests');
  } finally {
    await other.page.close();
  }
});

t.test('fractional weights (columns embedded as plain arrays) draw and describe the same way', async (t) => {
  if (!page) return; // the first test failed (CI) or skipped: no browser
  const b = new ProfileBuilder();
  b.addFrames([{ name: 'main', kind: 'user' }, { name: 'work', kind: 'user' }], 1.5);
  b.addFrames([{ name: 'main', kind: 'user' }], 0.25);
  b.addFrames([{ name: 'other', kind: 'user' }], 2.25);
  const fractional = join(dir, 'fractional.html');
  writeFileSync(fractional, renderHtml(b.build(), HTML_DEFAULTS));
  const fractionalUrl = pathToFileURL(fractional).href;
  const other = await recordedPage(browser!.browser, fractionalUrl);
  try {
    await other.page.setViewport({ width: 1000, height: 800 });
    await other.page.goto(fractionalUrl);
    await other.page.waitForSelector('html[data-ready="true"]');
    await other.page.evaluate(() => (window as any).profileReport.settled());
    const drawn: DrawnFrame[] = await other.page.evaluate(() => (window as any).profileReport.frames());
    const width = (name: string) => drawn.find((f) => f.name === name)!.width;
    t.equal(Math.round((1000 * width('main')) / width('all')), 438, 'main: 1.75 of 4');
    const main = drawn.find((f) => f.name === 'main')!;
    const box = (await (await other.page.$('#flame svg'))!.boundingBox())!;
    await other.page.mouse.move(box.x + main.x + 5, box.y + main.y + 9);
    t.match(await other.page.$eval('#tooltip', (e) => (e as HTMLElement).innerText), /self 0\.25 samples \(6\.25%\)/);
    t.same(other.record.pageErrors, []);
  } finally {
    await other.page.close();
  }
});

t.test('the functions table: by self time, process frames left out, sortable by each column', async (t) => {
  if (!page) return; // the first test failed (CI) or skipped: no browser
  t.same((await columnTexts('#functions', 0)).slice(0, 2), ['epoll_wait', 'fork']);
  t.same((await columnTexts('#functions', 2)).slice(0, 5), ['30', '12', '8', '5', '3']);
  t.notOk((await columnTexts('#functions', 0)).some((name) => name === 'bash' || name === 'node'), 'process frames are not functions');
  t.equal(await page.$eval('#functions th:nth-child(3)', (th) => th.getAttribute('aria-sort')), 'descending');
  await page.click('#functions th:nth-child(5)');
  t.same((await columnTexts('#functions', 0)).slice(0, 3), ['uv_run', 'epoll_wait', 'main'], 'by total');
  await page.click('#functions th:nth-child(3)');
  await page.click('#functions th:nth-child(3)');
  t.same((await columnTexts('#functions', 2)).slice(0, 1), ['0'], 'second click sorts ascending');
  await page.click('#functions th:nth-child(1)');
  const sorted = await columnTexts('#functions', 0);
  t.same(sorted, sorted.slice().sort(), 'by name, ascending');
  t.equal(await page.$eval('#functions th:nth-child(1)', (th) => th.getAttribute('aria-sort')), 'ascending');
});

t.test('clicking a function row highlights it in the graph', async (t) => {
  if (!page) return; // the first test failed (CI) or skipped: no browser
  const rows = await columnTexts('#functions', 0);
  await page.click(`#functions tbody tr:nth-child(${rows.indexOf('fork') + 1})`);
  t.equal(await page.$eval('#search', (e) => (e as HTMLInputElement).value), '^fork$');
  t.same((await frames()).filter((f) => f.matched).map((f) => f.name), ['fork']);
  t.equal(await text('#matched'), 'Matched: 20.69% (12 of 58 samples)');
  t.equal(await text('#sandwich-name'), 'fork', 'and opens its sandwich view');
  await page.click('#reset');
});

t.test('/ focuses the search box, Esc resets search and zoom', async (t) => {
  if (!page) return; // the first test failed (CI) or skipped: no browser
  await clickFrame('main');
  await page.click('#summary');
  await page.keyboard.press('/');
  t.equal(await page.evaluate(() => document.activeElement?.id), 'search');
  await page.keyboard.type('readline');
  t.equal(await text('#matched'), 'Matched: 8.62% (5 of 58 samples)');
  t.equal(await page.$eval('#search', (e) => (e as HTMLInputElement).value), 'readline', 'the slash itself is not typed');
  await page.keyboard.press('Escape');
  t.equal(await text('#matched'), '');
  t.equal(await page.$eval('#search', (e) => (e as HTMLInputElement).value), '');
  t.equal(await page.evaluate(() => (window as any).profileReport.state().zoom), 0, 'zoom reset');
  t.equal((await frame('all')).width, await graphWidth());
});

t.test('the icicle toggle puts the root on top and back', async (t) => {
  if (!page) return; // the first test failed (CI) or skipped: no browser
  const flameRoot = await frame('all');
  t.ok(flameRoot.y > 0, 'flame: root at the bottom');
  await page.click('#orientation');
  t.equal((await frame('all')).y, 0, 'icicle: root on top');
  t.equal((await frame('main')).y, 2 * 18);
  t.equal(await text('#orientation'), 'Flame');
  await clickFrame('uv_run');
  t.equal((await frame('uv_run')).width, flameRoot.width, 'zoom works in icicle mode');
  t.equal((await frame('uv_run')).y, 2 * 18, 'the zoomed frame keeps its depth');
  await page.click('#orientation');
  t.equal((await frame('all')).y, flameRoot.y);
  await page.click('#reset');
});

t.test('no console errors, no page errors, no network requests, no dialogs', async (t) => {
  if (!page) return; // the first test failed (CI) or skipped: no browser
  t.same(record.consoleErrors, []);
  t.same(record.pageErrors, []);
  t.same(record.requests, []);
  t.same(record.dialogs, []);
});
