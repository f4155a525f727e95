// Hostile names from the profiled system, through a real folded file (invalid UTF-8 and control
// bytes included) into the HTML report in chromium: no script runs, the page still works. ~6 s.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchBrowser, recordedPage, requireBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';

const HOSTILE = [
  '<img src=x onerror=alert(1)>',
  '</script><script>alert(1)</script>',
  '"\'><svg onload=alert(1)>',
  ']]><script>window.__pwned=1</script>',
  '<!--',
  '\u2028\u2029&amp{{DATA}}$&$`',
  'javascript:alert(1)',
];

const dir = mkdtempSync(join(tmpdir(), 'profile-hostile-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('hostile names are inert in the HTML report and the page still works', async (t) => {
  if (!requireBrowser(t)) return;
  const lines = HOSTILE.map((name, i) => Buffer.from(`evil;${name};leaf${i} ${i + 1}\n`));
  // Invalid UTF-8 (a lone continuation byte, a truncated sequence) and control bytes (ESC, BEL, NUL-free).
  lines.push(Buffer.concat([Buffer.from('evil;bad'), Buffer.from([0x80, 0xe2, 0x82]), Buffer.from('\x1b[31m\x07x 5\n')]));
  const input = join(dir, 'hostile.folded');
  writeFileSync(input, Buffer.concat(lines));
  const output = join(dir, 'hostile.html');
  const result = await runCli(['render', input, '-o', output, '--title', '</title><script>alert(2)</script>']);
  t.equal(result.code, 0, result.stderr);
  const html = readFileSync(output, 'utf8');
  t.equal(html.match(/<script/g)?.length, 2, 'exactly our data block and our script');
  t.notMatch(html, /<img|<svg onload|alert\(2\)<\/script>/, 'no name appears as markup');

  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const url = pathToFileURL(output).href;
  const { page, record } = await recordedPage(browser.browser, url);
  await page.evaluateOnNewDocument(() => {
    for (const name of ['alert', 'confirm', 'prompt'] as const) {
      (window as any)[name] = () => {
        (window as any).__pwned = name;
      };
    }
  });
  await page.goto(url);
  await page.waitForSelector('html[data-ready="true"]');
  t.equal(await page.evaluate(() => (window as any).__pwned), undefined, 'no injected script ran');
  t.same(record.dialogs, []);
  t.same(record.requests, [], 'no request (no <img src=x>)');
  t.same(record.consoleErrors, [], 'no CSP violation was even attempted');
  t.same(record.pageErrors, []);
  t.equal(await page.$$eval('img, iframe, object, embed', (e) => e.length), 0);
  t.equal(await page.title(), '</title><script>alert(2)</script>');

  const shown = await page.$$eval('#functions tbody td:first-child', (cells) => cells.map((c) => c.textContent));
  HOSTILE.forEach((name, i) => t.ok(shown.includes(name), `hostile name ${i} shown as text`));
  t.ok(shown.some((name) => name!.startsWith('bad\ufffd') && name!.includes('\x1b[31m')), 'invalid UTF-8 replaced, control bytes kept as text');

  // The page still works with these names: highlight a hostile one from the table, zoom on it.
  const row = shown.indexOf(HOSTILE[1]!) + 1;
  await page.click(`#functions tbody tr:nth-child(${row})`);
  const matched = await page.evaluate(() => (window as any).profileReport.frames().filter((f: { matched: boolean }) => f.matched).map((f: { name: string }) => f.name));
  t.same(matched, [HOSTILE[1]]);
  t.match(await page.$eval('#matched', (e) => e.textContent), /^Matched: /);
  await page.click('#search', { clickCount: 3 });
  await page.type('#search', '<img');
  const count = await page.evaluate(() => (window as any).profileReport.frames().filter((f: { matched: boolean }) => f.matched).length);
  t.equal(count, 1);
  t.equal(await page.evaluate(() => (window as any).__pwned), undefined);
});
