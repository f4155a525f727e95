import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { oneLineError, runCli } from '../helpers/cli.js';
import { golden, svgFrames } from '../helpers/svg.js';
import { launchBrowser, recordedPage, requireBrowser } from '../helpers/browser.js';
import { pathToFileURL } from 'node:url';

const fixtures = join(import.meta.dirname, '../../fixtures/diff');
const before = join(fixtures, 'before.folded');
const after = join(fixtures, 'after.folded');
const dir = mkdtempSync(join(tmpdir(), 'profile-diff-'));

t.test('table on the terminal, JSON for scripts', async (t) => {
  const table = await runCli(['diff', before, after]);
  t.equal(table.code, 0, table.stderr);
  t.equal(table.stdout, readFileSync(join(fixtures, 'results/normalized.txt'), 'utf8'), 'same as the library golden');
  const raw = await runCli(['diff', before, after, '--no-normalize', '--top', '3']);
  t.equal(raw.stdout.split('\n').filter(Boolean).length, 5, 'header, column names, 3 rows');
  const json = await runCli(['diff', before, after, '--json', '--top', '0']);
  const doc = JSON.parse(json.stdout);
  t.equal(doc.functions.length, 9);
  t.same(doc.functions[0], {
    name: 'parse_json', kind: 'user', before: { self: 20, total: 20 }, after: { self: 120, total: 120 },
    selfPoints: 20, totalPoints: 20, selfDelta: 80, totalDelta: 80,
  });
  t.same([doc.before.total, doc.after.total, doc.normalized], [200, 400, true]);
});

t.test('-o diff.svg: shaped like AFTER, grown frames red, shrunk blue; --negate shapes like BEFORE', async (t) => {
  const out = join(dir, 'diff.svg');
  const result = await runCli(['diff', before, after, '-o', out]);
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stdout, '', 'no table when writing a graph');
  const frames = svgFrames(readFileSync(out, 'utf8'));
  const frame = (name: string) => frames.find((f) => f.title.startsWith(`${name} (`));
  const rgb = (fill: string) => (/rgb\((\d+),(\d+),(\d+)\)/.exec(fill.replace(/\s/g, '')) ?? []).slice(1).map(Number);
  const [r1, , b1] = rgb(frame('parse_json')!.fill);
  t.ok(r1! > b1!, `parse_json grew: red (${frame('parse_json')!.fill})`);
  const [r2, , b2] = rgb(frame('deflate')!.fill);
  t.ok(b2! > r2!, `deflate shrank: blue (${frame('deflate')!.fill})`);
  t.match(frame('parse_json')!.title, /120 samples.*before 20 samples/);
  t.notOk(frame('old_path'), 'a BEFORE-only frame takes no width');

  const negated = join(dir, 'neg.svg');
  t.equal((await runCli(['diff', before, after, '--negate', '-o', negated])).code, 0);
  t.ok(svgFrames(readFileSync(negated, 'utf8')).some((f) => f.title.startsWith('old_path (')), '--negate shows what disappeared');
});

t.test('-o diff.html is a differential report', async (t) => {
  const out = join(dir, 'diff.html');
  const result = await runCli(['diff', before, after, '-o', out]);
  t.equal(result.code, 0, result.stderr);
  const html = readFileSync(out, 'utf8');
  t.match(html, /Differential Flame Graph/);
  t.match(html, /parse_json/);
  t.match(html, /"otherTotal":200/, 'baseline total embedded');
});

t.test('the differential report opens offline in chromium and shows what changed', async (t) => {
  if (!requireBrowser(t)) return;
  const out = join(dir, 'view.html');
  t.equal((await runCli(['diff', before, after, '-o', out])).code, 0);
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const url = pathToFileURL(out).href;
  const { page, record } = await recordedPage(browser.browser, url);
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => document.body.innerText.includes('Biggest changes'), { timeout: 20_000 });
  const text = (await page.evaluate(() => document.body.innerText)).replace(/[ \t]+/g, ' ');
  t.match(text, /Biggest changes\n.*\nparse_json user \(native\) 20 \(10\.00%\) 120 \(30\.00%\) \+20\.00 pp/, 'biggest change first');
  t.match(text, /old_path user \(native\) 20 \(10\.00%\) 0 \(0\.00%\) -10\.00 pp/, 'a BEFORE-only function is listed');
  t.same(record.pageErrors, []);
  t.same(record.requests, [], 'no network request');
});

t.test('pprof and speedscope inputs diff like their folded sources', async (t) => {
  const pb = join(dir, 'before.pb.gz');
  const ss = join(dir, 'after.speedscope.json');
  t.equal((await runCli(['render', before, '-o', pb])).code, 0);
  t.equal((await runCli(['render', after, '-o', ss])).code, 0);
  const result = await runCli(['diff', pb, ss]);
  t.equal(result.stdout, readFileSync(join(fixtures, 'results/normalized.txt'), 'utf8'));
});

t.test('untrusted names are escaped in the table', async (t) => {
  const evil = join(dir, 'evil.folded');
  writeFileSync(evil, 'a;evil\u001b]0:pwned\u0007\u009b2J\u202e 5\n');
  const result = await runCli(['diff', before, evil]);
  t.equal(result.code, 0, result.stderr);
  t.notMatch(result.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  t.match(result.stdout, /evil\\x1b\]0:pwned\\x07\\x9b2J\\u202e/);
  const json = await runCli(['diff', before, evil, '--json']);
  t.notMatch(json.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  t.ok(JSON.parse(json.stdout).functions.some((f: { name: string }) => f.name === 'evil\u001b]0:pwned\u0007\u009b2J\u202e'), 'JSON keeps the exact name, escaped');
});

t.test('malformed pprof and speedscope: one line naming the file (and line), exit 2', async (t) => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['bad.pb.gz', gzipSync(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01])), /bad\.pb\.gz: not a valid pprof profile/],
    ['trunc.pb.gz', gzipSync(Buffer.from('hello world')).subarray(0, 12), /trunc\.pb\.gz: not a valid gzip file/],
    ['syntax.speedscope.json', '{\n  "$schema": "https://www.speedscope.app/file-format-schema.json",\n  "shared": { "frames": [ }\n}\n', /syntax\.speedscope\.json:3: not valid JSON: unexpected "}\\n}\\n"$/m],
    ['frames.speedscope.json', '{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":[{"name":"a"}]},"profiles":[{"type":"sampled","samples":[[7]],"weights":[1]}]}', /frames\.speedscope\.json: not a valid speedscope file: profile 0 sample 0 names frame 7, but there are 1/],
    ['other.json', '{"hello": 1}\n', /other\.json:1: JSON input is not a speedscope file/],
  ];
  for (const [name, content, pattern] of cases) {
    const file = join(dir, name);
    writeFileSync(file, content);
    const result = await runCli(['diff', file, after]);
    t.equal(oneLineError(result), undefined, name);
    t.match(result.stderr, pattern, name);
  }
});
