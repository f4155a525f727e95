// `profile render` end to end through the real CLI: SVG, HTML and PNG from folded and from stdin,
// the SVG flags reaching the output, --open without a desktop, bad input and missing chromium. ~8 s.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { requireBrowser } from '../helpers/browser.js';

const dir = mkdtempSync(join(tmpdir(), 'profile-render-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const folded = join(dir, 'in.folded');
writeFileSync(folded, 'bash;main;fork 12\nbash;main;readline 5\nnode;uv_run;epoll_wait_[k] 30\n');

t.test('render writes an HTML report with the title and every function', async (t) => {
  const out = join(dir, 'out.html');
  const result = await runCli(['render', folded, '-o', out, '--title', 'Build 42', '--subtitle', 'before']);
  t.equal(result.code, 0, result.stderr);
  const html = readFileSync(out, 'utf8');
  t.match(html, '<title>Build 42</title>');
  t.match(html, /"subtitle":"before"/);
  for (const name of ['fork', 'readline', 'epoll_wait_[k]']) t.match(html, `"${name}"`);
});

t.test('render passes the SVG flags through', async (t) => {
  const out = join(dir, 'out.svg');
  const result = await runCli(['render', folded, '-o', out, '--width', '900', '--title', 'T1', '--countname', 'ticks', '--inverted', '--colors', 'blue']);
  t.equal(result.code, 0, result.stderr);
  const svg = readFileSync(out, 'utf8');
  t.match(svg, /<svg[^>]* width="900"/);
  t.match(svg, 'T1');
  t.match(svg, 'ticks');
});

t.test('render reads standard input and anything collapse reads', async (t) => {
  const result = await runCli(['render', '--format', 'html'], { input: 'a;b 3\n' });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /^<!DOCTYPE html>/);
});

t.test('--open without a desktop prints where the report is', async (t) => {
  const out = join(dir, 'open.html');
  const env = { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '' };
  const result = await runCli(['render', folded, '-o', out, '--open'], { env });
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stderr.trim(), `profile: no desktop to open a browser on; the report is at ${out}`);
  t.ok(existsSync(out));
  const noFile = await runCli(['render', folded, '--open', '--format', 'html']);
  t.equal(noFile.code, 2);
  t.equal(noFile.stderr.trim(), 'profile: --open needs -o FILE');
});

t.test('bad input is one line with file and line', async (t) => {
  const bad = join(dir, 'bad.folded');
  writeFileSync(bad, 'a;b 1\nnot a stack\n');
  const result = await runCli(['render', bad, '-o', join(dir, 'bad.html')]);
  t.equal(result.code, 2);
  t.match(result.stderr, new RegExp(`^profile: ${bad}:2: `));
  t.equal(result.stderr.trim().split('\n').length, 1);
  t.notOk(existsSync(join(dir, 'bad.html')));
});

t.test('PNG: an image from chromium, or one line when chromium is missing', async (t) => {
  const missing = await runCli(['render', folded, '-o', join(dir, 'x.png')], { env: { ...process.env, PROFILE_CHROMIUM: '/nonexistent' } });
  t.equal(missing.code, 2);
  t.equal(missing.stderr.trim(), 'profile: PNG output needs chromium, not found at /nonexistent; install chromium: apt-get install chromium');
  if (!requireBrowser(t)) return;
  const out = join(dir, 'out.png');
  const result = await runCli(['render', folded, '-o', out, '--width', '640']);
  t.equal(result.code, 0, result.stderr);
  const png = readFileSync(out);
  t.equal(png.subarray(1, 4).toString(), 'PNG');
  t.equal(png.readUInt32BE(16), 640);
});
