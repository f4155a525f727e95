// The report's "User stacks, by binary" table: record's stack quality (how each binary's samples
// were walked) shown in chromium, hostile binary names as text.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProfileBuilder } from '../../src/profile/builder.js';
import { HTML_DEFAULTS, renderHtml } from '../../src/render/html/index.js';
import type { StackQuality } from '../../src/symbolize/stack-quality.js';
import { launchBrowser, recordedPage, requireBrowser } from '../helpers/browser.js';

const HOSTILE = '<img src=x onerror="window.__pwned=1">';

t.test('stack quality per binary, in the report', async (t) => {
  if (!requireBrowser(t)) return;
  const b = new ProfileBuilder();
  b.addFrames([{ name: 'main', kind: 'user' }, { name: 'deflate', kind: 'user' }], 90, { comm: 'gzip', pid: 1 });
  const quality: StackQuality = {
    samples: 100,
    complete: 85,
    framePointers: 10,
    stopped: 5,
    binaries: [
      { module: 'gzip', samples: 90, complete: 84, framePointers: 6, stopped: {}, stoppedIn: [] },
      { module: HOSTILE, samples: 10, complete: 1, framePointers: 4, stopped: { 'no-unwind-info': 5 }, stoppedIn: ['libfoo.so'] },
    ],
  };
  const profile = b.build({ samples: 100, extra: { stackQuality: quality } });
  const dir = mkdtempSync(join(tmpdir(), 'profile-html-quality-'));
  const browser = await launchBrowser();
  t.teardown(async () => {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'quality.html');
  writeFileSync(file, renderHtml(profile, HTML_DEFAULTS));
  const url = pathToFileURL(file).href;
  const { page, record } = await recordedPage(browser.browser, url);
  await page.goto(url);
  await page.waitForSelector('#stack-quality tbody tr');
  const rows = await page.$$eval('#stack-quality tbody tr', (trs) => trs.map((tr) => [...(tr as HTMLTableRowElement).cells].map((c) => c.textContent)));
  t.same(rows, [
    ['gzip', '90', '93.3 %', '6.7 %', '0.0 %', ''],
    [HOSTILE, '10', '10.0 %', '40.0 %', '50.0 %', 'no-unwind-info 5 (in libfoo.so)'],
  ]);
  t.equal(await page.$eval('#stack-quality-section', (e) => (e as HTMLElement).hidden), false, 'the section is shown');
  t.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'a binary name is text, never markup');
  t.equal(await page.$$eval('#stack-quality img', (imgs) => imgs.length), 0);
  t.same(record.pageErrors, [], 'no page errors');
});
