// The HTML report's views in a real chromium: the first screen at 1400x900 (toolbar, summary and
// the graph's root visible without scrolling, a deep graph scrolling in its own pane), the hottest
// functions by self time, the sandwich view of a function with a known answer, and the level of
// detail (narrow frames merged, shown again when zoomed into). ~10 s.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'puppeteer';
import { ProfileBuilder } from '../../src/profile/builder.js';
import type { Frame, Profile } from '../../src/profile/model.js';
import { HTML_DEFAULTS, renderHtml } from '../../src/render/html/index.js';
import { isPlaceholder } from '../../src/render/html/data.js';
import { launchBrowser, recordedPage, requireBrowser, type TestBrowser } from '../helpers/browser.js';

interface DrawnFrame {
  index: number;
  name: string;
  depth: number;
  x: number;
  y: number;
  width: number;
  value: number;
}

const dir = mkdtempSync(join(tmpdir(), 'profile-html-views-'));
let browser: TestBrowser | undefined;
t.teardown(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

const user = (name: string, extra: Partial<Frame> = {}): Frame => ({ name, kind: 'user', ...extra });

async function open(name: string, profile: Profile, options: Partial<typeof HTML_DEFAULTS> = {}): Promise<{ page: Page; errors: () => string[] }> {
  const file = join(dir, `${name}.html`);
  writeFileSync(file, renderHtml(profile, { ...HTML_DEFAULTS, title: name, ...options }));
  const url = pathToFileURL(file).href;
  browser ??= await launchBrowser();
  const { page, record } = await recordedPage(browser.browser, url);
  await page.setViewport({ width: 1400, height: 900 });
  await page.goto(url);
  await page.waitForSelector('html[data-ready="true"]');
  await settle(page);
  return { page, errors: () => [...record.pageErrors, ...record.consoleErrors, ...record.requests] };
}

const settle = (page: Page): Promise<void> => page.evaluate(() => (window as any).profileReport.settled());
async function frames(page: Page): Promise<DrawnFrame[]> {
  await settle(page);
  return page.evaluate(() => (window as any).profileReport.frames());
}
async function click(page: Page, target: DrawnFrame): Promise<void> {
  await page.$eval('#graph', (e) => e.scrollIntoView({ block: 'nearest' }));
  const box = (await (await page.$('#flame svg'))!.boundingBox())!;
  await page.mouse.click(box.x + target.x + target.width / 2, box.y + target.y + 9);
  await settle(page);
}

t.test('first screen at 1400x900: toolbar, summary and the root of a deep graph, no page scrolling', async (t) => {
  if (!requireBrowser(t)) return;
  const b = new ProfileBuilder();
  const deep = Array.from({ length: 120 }, (_, i) => user(`level_${i}`));
  b.addFrames(deep, 40, { comm: 'deep', pid: 1 });
  b.addFrames([user('main'), user('work')], 60, { comm: 'app', pid: 2 });
  const { page, errors } = await open('first-screen', b.build({ samples: 100, durationSeconds: 1, frequencyHz: 99 }));
  t.equal(await page.evaluate(() => window.scrollY), 0, 'the page opens at its top');
  const inView = (selector: string) =>
    page.$eval(selector, (e) => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth;
    });
  for (const selector of ['#search', '#reset', '#orientation', '#process', '#summary', '#legend']) t.ok(await inView(selector), `${selector} is on the first screen`);
  t.equal(await page.$eval('#summary', (e) => e.textContent), '100 samples · 1.0 s at 99 Hz · 2 processes');
  const root = await page.evaluate(() => {
    const g = [...document.querySelectorAll('#flame g')].find((e) => (e as any).__data__.depth === 0)!;
    const r = g.querySelector('rect')!.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, name: (g as any).__data__.data.name };
  });
  t.equal(root.name, 'all');
  t.ok(root.top >= 0 && root.bottom <= 900 && root.left >= 0 && root.right <= 1400, `the root frame is inside the viewport (${JSON.stringify(root)})`);
  const pane = await page.$eval('#graph', (e) => ({ scrollTop: e.scrollTop, scrollHeight: e.scrollHeight, clientHeight: e.clientHeight }));
  t.ok(pane.scrollHeight > pane.clientHeight, '122 levels do not fit: the graph scrolls in its own pane');
  t.equal(pane.scrollTop, pane.scrollHeight - pane.clientHeight, 'the pane opens scrolled to the root');
  // The first levels above the root are on screen too.
  const firstLevels = await page.evaluate(() =>
    [...document.querySelectorAll('#flame g')]
      .filter((g) => (g as any).__data__.depth <= 3)
      .every((g) => {
        const r = g.getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight;
      }),
  );
  t.ok(firstLevels, 'the root and its first levels are visible');
  t.same(errors(), []);
  await page.close();
});

t.test('the first row of the hottest functions is the function with the most self samples', async (t) => {
  if (!requireBrowser(t)) return;
  const b = new ProfileBuilder();
  // `[unknown]` has the most self samples and the process frames the most total: neither is a function.
  const stacks: [Frame[], number, string][] = [
    [[user('main'), user('[unknown]')], 500, 'cc1'],
    [[user('main'), user('parse'), user('lex')], 120, 'cc1'],
    [[user('main'), user('emit')], 90, 'cc1'],
    [[user('start'), user('lex')], 45, 'as'],
    [[user('start'), { name: 'read', kind: 'kernel' }], 150, 'as'],
  ];
  for (const [frames, weight, comm] of stacks) b.addFrames(frames, weight, { comm, pid: comm.length });
  const profile = b.build();
  // The expected answer from the stacks: self weight per leaf function, placeholders left out.
  const self = new Map<string, number>();
  for (const [frames, weight] of stacks) {
    const leaf = frames[frames.length - 1]!.name;
    if (!isPlaceholder(leaf)) self.set(leaf, (self.get(leaf) ?? 0) + weight);
  }
  const [hottest, hottestSelf] = [...self].sort((x, y) => y[1] - x[1])[0]!;
  const { page, errors } = await open('hottest', profile);
  const first = await page.$eval('#functions tbody tr', (tr) => Array.from((tr as HTMLTableRowElement).cells, (c) => c.textContent));
  t.equal(first[0], hottest, `the first row is ${hottest}`);
  t.equal(first[2], String(hottestSelf));
  const names = await page.$$eval('#functions tbody tr td:first-child', (cells) => cells.map((c) => c.textContent));
  t.notOk(names.includes('[unknown]') || names.includes('cc1') || names.includes('as'), 'no placeholder and no process among the functions');
  t.same(errors(), []);
  await page.close();
});

t.test('the hottest table shows the top 50, "show all" the rest', async (t) => {
  if (!requireBrowser(t)) return;
  const b = new ProfileBuilder();
  for (let i = 0; i < 80; i++) b.addFrames([user('main'), user(`f${i}`)], 100 + i);
  const { page } = await open('many', b.build());
  const rows = () => page.$$eval('#functions tbody tr', (trs) => trs.length);
  t.equal(await rows(), 50);
  t.equal(await page.$eval('#show-all', (e) => e.textContent), 'Show all 81');
  await page.click('#show-all');
  t.equal(await rows(), 81);
  await page.click('#show-all');
  t.equal(await rows(), 50);
  await page.close();
});

t.test('clicking a row opens the sandwich view: callers above, callees below, merged across call sites', async (t) => {
  if (!requireBrowser(t)) return;
  // work is called from a (3 samples), from b (5) and from c under b (2); it calls x (3 + 2) and y (5).
  const b = new ProfileBuilder();
  b.addFrames([user('a'), user('work'), user('x')], 3, { comm: 'app', pid: 1 });
  b.addFrames([user('b'), user('work'), user('y')], 5, { comm: 'app', pid: 1 });
  b.addFrames([user('b'), user('c'), user('work'), user('x')], 2, { comm: 'app', pid: 1 });
  b.addFrames([user('d'), user('e')], 7, { comm: 'app', pid: 1 });
  const { page, errors } = await open('sandwich', b.build());
  t.equal(await page.$eval('#sandwich-body', (e) => (e as HTMLElement).hidden), true, 'closed until a function is picked');
  const rows = await page.$$eval('#functions tbody tr td:first-child', (cells) => cells.map((c) => c.textContent));
  await page.click(`#functions tbody tr:nth-child(${rows.indexOf('work') + 1})`);
  await settle(page);
  const view = await page.evaluate(() => (window as any).profileReport.sandwich());
  t.equal(view.name, 'work');
  const shape = (list: DrawnFrame[]) => list.map((f) => `${f.depth}:${f.name}:${f.value}`).sort();
  t.same(shape(view.callers), ['0:work:10', '1:a:3', '1:b:5', '1:c:2', '2:app:3', '2:app:5', '2:b:2', '3:app:2'], 'callers, each path with its weight');
  t.same(shape(view.callees), ['0:work:10', '1:x:5', '1:y:5'], 'callees merged from every call site');
  // Callers stand above the function (a flame), callees hang below it (an icicle).
  const callers = (name: string) => view.callers.find((f: DrawnFrame) => f.name === name)!;
  t.ok(callers('a').y < callers('work').y, 'callers are drawn above');
  const callees = (name: string) => view.callees.find((f: DrawnFrame) => f.name === name)!;
  t.ok(callees('x').y > callees('work').y, 'callees are drawn below');
  const [callersBox, calleesBox] = await page.$$eval('#callers svg, #callees svg', (svgs) => svgs.map((s) => s.getBoundingClientRect().top));
  t.ok(callersBox! < calleesBox!, 'the callers chart is above the callees chart');
  t.match(await page.$eval('#sandwich-summary', (e) => e.textContent), /^10 samples \(58\.82%\), self 0 \(0\.00%\), called from 3 places\./);
  t.same((await frames(page)).filter((f) => (f as any).matched).map((f) => f.name), ['work', 'work', 'work'], 'and the function is highlighted in the graph');
  t.same(errors(), []);
  await page.close();
});

t.test('level of detail: narrow frames are merged, zooming into them shows them, elements stay bounded', async (t) => {
  if (!requireBrowser(t)) return;
  const b = new ProfileBuilder();
  b.addFrames([user('main'), user('big')], 100_000);
  for (let i = 0; i < 50; i++) b.addFrames([user('main'), user('lib'), user(`tiny_${i}`)], 10);
  for (let i = 0; i < 50; i++) b.addFrames([user('main'), user(`side_${i}`)], 10);
  for (let i = 0; i < 20_000; i++) b.addFrames([user('main'), user('wide'), user(`leaf_${i}`)], i < 100 ? 50 : 1);
  // Nothing merged when the report is written: the page gets every frame and does all the merging.
  const { page, errors } = await open('lod', b.build(), { minFraction: 0 });
  const drawn = await frames(page);
  const names = drawn.map((f) => f.name);
  const state = await page.evaluate(() => (window as any).profileReport.state());
  t.ok(state.nodes > 20_000, `the page holds the whole tree (${state.nodes} frames)`);
  t.ok(drawn.length < 20, `but draws only what the screen can show (${drawn.length} frames)`);
  t.equal(await page.$$eval('#flame g', (gs) => gs.length), drawn.length, 'one SVG group per drawn frame');
  t.notOk(names.some((name) => name.startsWith('tiny_') || name.startsWith('side_') || name.startsWith('leaf_')), 'narrow frames are not drawn alone');
  const lib = drawn.find((f) => f.name === 'lib')!;
  const libGroup = drawn.find((f) => f.depth === lib.depth + 1 && f.x >= lib.x && f.x < lib.x + lib.width)!;
  t.equal(libGroup.name, '(50 small frames)');
  t.equal(libGroup.value, 500, 'the merged frame carries their total');
  t.equal(drawn.find((f) => f.name === '(20000 small frames)')?.value, 24_900);

  await click(page, lib);
  const zoomed = await frames(page);
  const tiny = zoomed.filter((f) => f.name.startsWith('tiny_'));
  t.equal(tiny.length, 50, 'zooming into lib shows every one of its children');
  t.ok(tiny.every((f) => f.width > 20), 'each drawn at a readable width');

  await page.click('#reset');
  const side = (await frames(page)).find((f) => f.name === '(50 small frames)' && f.depth === 2)!;
  await click(page, side);
  const sides = (await frames(page)).filter((f) => f.name.startsWith('side_'));
  t.equal(sides.length, 50, 'zooming into a merged frame shows the frames it merged');

  await page.click('#reset');
  const leaves = (await frames(page)).find((f) => f.name === '(20000 small frames)')!;
  await click(page, leaves);
  const afterLeaves = await frames(page);
  t.ok(afterLeaves.length < 2 * 1400, `20,000 one-sample frames zoomed into: still bounded by the screen (${afterLeaves.length})`);
  t.equal(afterLeaves.filter((f) => f.name.startsWith('leaf_')).length, 100, 'and the 100 widest of them are drawn');
  t.ok(afterLeaves.some((f) => f.name === '(19900 small frames)'), 'the rest merged again');
  t.same(errors(), []);
  await page.close();
});
