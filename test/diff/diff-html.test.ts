// The differential HTML report (`profile diff BEFORE AFTER -o diff.html`) in a real chromium: it
// loads without console errors or network requests, the changes table names the functions that
// changed (fixtures/diff: parse_json 20 -> 120, idle_loop 100 -> 200, old_path gone, new_cache new),
// d3-flame-graph's differential colours (red grew, blue shrank, by share), and clicking a frame
// zooms. ~5 s.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchBrowser, recordedPage, requireBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';

interface DrawnFrame {
  index: number;
  name: string;
  depth: number;
  x: number;
  width: number;
  y: number;
  fill: string;
}

const fixtures = join(import.meta.dirname, '../../fixtures/diff');
const dir = mkdtempSync(join(tmpdir(), 'profile-diff-html-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('the differential report in chromium', async (t) => {
  if (!requireBrowser(t)) return;
  const out = join(dir, 'diff.html');
  const result = await runCli(['diff', join(fixtures, 'before.folded'), join(fixtures, 'after.folded'), '-o', out]);
  t.equal(result.code, 0, result.stderr);
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const url = pathToFileURL(out).href;
  const { page, record } = await recordedPage(browser.browser, url);
  await page.setViewport({ width: 1000, height: 800 });
  await page.goto(url);
  await page.waitForSelector('html[data-ready="true"]');

  t.equal(await page.title(), 'Differential Flame Graph');
  t.notOk(await page.$eval('#changes-section', (e) => (e as HTMLElement).hidden), 'the changes section is shown');
  // Rows: function, kind, before, after, change in share; biggest change first. BEFORE totals
  // 200 samples, AFTER 400.
  const rows = await page.$$eval('#changes tbody tr', (trs) => trs.map((tr) => Array.from((tr as HTMLTableRowElement).cells, (c) => c.textContent)));
  const byName = new Map(rows.map((row) => [row[0], row]));
  t.same(rows[0], ['parse_json', 'user (native)', '20 (10.00%)', '120 (30.00%)', '+20.00 pp'], 'the biggest change first');
  t.same(byName.get('old_path'), ['old_path', 'user (native)', '20 (10.00%)', '0 (0.00%)', '-10.00 pp'], 'a function that disappeared');
  t.same(byName.get('new_cache'), ['new_cache', 'user (native)', '0 (0.00%)', '20 (5.00%)', '+5.00 pp'], 'a new function');
  t.same(byName.get('deflate')?.[4], '-15.00 pp', 'a function whose share shrank');
  t.same(rows.slice(1, 3).map((row) => row[0]).sort(), ['compress', 'deflate'], 'then the next biggest changes');
  t.equal(byName.get('idle_loop')?.[4], '+0.00 pp', 'a function that doubled with everything else kept its share');

  const frames = async (): Promise<DrawnFrame[]> => {
    await page.evaluate(() => (window as any).profileReport.settled());
    return page.evaluate(() => (window as any).profileReport.frames());
  };
  const frame = async (name: string): Promise<DrawnFrame> => {
    const found = (await frames()).find((f) => f.name === name);
    if (!found) throw new Error(`no frame ${name} drawn`);
    return found;
  };
  const legend = await page.$$eval('#legend li', (items) => items.map((i) => i.textContent));
  t.same(legend, ['share grew', 'share shrank', 'new', 'unchanged', 'merged small frames']);

  // Colours, as d3-flame-graph's differential mapper gives them: parse_json's share grew (red),
  // deflate's shrank (blue), idle_loop doubled with the whole profile (its share is unchanged: grey).
  const colourOf = async (name: string): Promise<number[]> => (await frame(name)).fill.match(/\d+/g)!.map(Number);
  const [r1, g1, b1] = await colourOf('parse_json');
  t.ok(r1! > b1! + 50 && g1 === b1, `parse_json grew: red (${r1}, ${g1}, ${b1})`);
  const [r2, g2, b2] = await colourOf('deflate');
  t.ok(b2! > r2! + 50 && r2 === g2, `deflate shrank: blue (${r2}, ${g2}, ${b2})`);
  t.same(await colourOf('idle_loop'), [220, 220, 220], 'idle_loop kept its share: neither red nor blue');
  const painted = await page.$$eval('#flame g', (gs) => gs.filter((g) => g.getAttribute('name') === 'parse_json').map((g) => getComputedStyle(g.querySelector('rect')!).fill));
  t.same(painted.map((fill) => fill.match(/\d+/g)!.map(Number)), [[r1, g1, b1]], 'that colour is what chromium paints');

  // Clicking a frame zooms: handle_request (200 of 400 samples) takes the full width.
  const full = (await frame('all')).width;
  const handle = await frame('handle_request');
  t.equal(Math.round(handle.width), Math.round(full / 2));
  const box = (await (await page.$('#flame svg'))!.boundingBox())!;
  await page.mouse.click(box.x + handle.x + handle.width / 2, box.y + handle.y + 9);
  t.equal((await frame('handle_request')).width, full, 'the clicked frame spans the graph');
  t.equal(Math.round((await frame('parse_json')).width), Math.round((full * 120) / 200), 'its children scale with it');
  t.notOk((await frames()).some((f) => f.name === 'idle_loop'), 'siblings leave the view');
  await page.mouse.move(0, 0);
  t.match(await page.$eval('#details', (e) => (e as HTMLElement).innerText), /app → main → handle_request/);
  const tip = await (async () => {
    const target = await frame('parse_json');
    await page.mouse.move(box.x + target.x + 5, box.y + target.y + 9);
    return page.$eval('#tooltip', (e) => (e as HTMLElement).innerText);
  })();
  t.match(tip, /before 20 \(10\.00%\) → after 120 \(30\.00%\)/, 'the tooltip compares both sides');
  await page.click('#reset');
  t.equal(Math.round((await frame('handle_request')).width), Math.round(full / 2), 'reset restores the widths');

  t.same(record.consoleErrors, [], 'no console errors');
  t.same(record.pageErrors, [], 'no page errors');
  t.same(record.requests, [], 'no network requests');
  t.same(record.dialogs, []);
});
