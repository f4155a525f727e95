// The SVG writer on fixture folded files: deterministic goldens (BLESS=1 re-blesses), hostile
// names, pruning, flame charts, differential colours and streaming. ~2 s.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { writeProfile } from '../../src/output/index.js';
import { stringSink } from '../../src/io/sink.js';
import { ProfileBuilder } from '../../src/profile/builder.js';
import { readFolded } from '../../src/profile/folded.js';
import type { Profile } from '../../src/profile/model.js';
import { diffColor, frameColor, PALETTES } from '../../src/render/palette.js';
import { SVG_DEFAULTS, writeSvg, writeSvgFromFolded, type SvgOptions } from '../../src/render/svg/index.js';
import { buildCallTree, type CallTree } from '../../src/render/calltree.js';
import { diffProfiles } from '../../src/diff/index.js';
import { Readable } from 'node:stream';
import { xmlText } from '../../src/render/svg/escape.js';
import { countText, fixed } from '../../src/render/svg/format.js';
import { errorLine } from '../helpers/errors.js';
import { golden, svgFrames } from '../helpers/svg.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'render');

async function load(name: string): Promise<Profile> {
  const file = join(FIXTURES, name);
  return readFolded(createReadStream(file), file);
}

async function svg(input: Profile | CallTree, options: Partial<SvgOptions> = {}): Promise<string> {
  const sink = stringSink();
  await writeSvg(input, sink, { deterministic: true, ...options });
  return sink.text();
}

function titles(text: string): string[] {
  return svgFrames(text).map((f) => f.title);
}

const GOLDEN_CASES: [string, string, Partial<SvgOptions>][] = [
  ['small-default', 'small.folded', {}],
  ['small-icicle-hash', 'small.folded', { inverted: true, hash: true, title: 'Icicle <test>', subtitle: 'sub & title' }],
  ['small-reverse-minwidth', 'small.folded', { reverse: true, minWidth: '3%' }],
  ['small-flamechart', 'small.folded', { flamechart: true, width: 800, frameHeight: 20, fontSize: 10 }],
  ['small-java-bytes', 'small.folded', { palette: 'java', countName: 'bytes', nameType: 'Symbol:', fontType: 'monospace' }],
  ['hostile', 'hostile.folded', {}],
];

for (const [name, fixture, options] of GOLDEN_CASES) {
  t.test(`golden ${name}`, async (t) => {
    const actual = await svg(await load(fixture), options);
    t.equal(actual, golden(join(FIXTURES, 'golden', `${name}.svg`), actual), `matches fixtures/render/golden/${name}.svg (BLESS=1 to re-bless)`);
    t.notMatch(actual, /<script/, 'deterministic mode has no script');
  });
}

t.test('frames, counts and percentages as flamegraph.pl writes them', async (t) => {
  const text = await svg(await load('small.folded'));
  const all = titles(text);
  t.equal(all[0], 'all (168 samples, 100%)');
  t.ok(all.includes('do_wait (12 samples, 7.14%)'), 'kernel annotation stripped from the title');
  t.ok(all.includes('execute_command (15 samples, 8.93%)'));
  t.ok(all.includes('LazyCompile:*processTimers (34 samples, 20.24%)'));
  t.equal(all.filter((x) => x.startsWith('f (')).length, 2, 'f under main and under main2 are two frames');
  const frames = svgFrames(text);
  const bash = frames.find((f) => f.title.startsWith('bash ('))!;
  const main = frames.find((f) => f.title.startsWith('main ('))!;
  t.equal(bash.width, Math.round((1180 * 22) / 168 * 100) / 100, 'width is proportional to the count');
  const topMain = frames.find((f) => f.title.startsWith('main (') && f.y === frames[0]!.y - 16)!;
  t.ok(frames.find((f) => f.title.startsWith('main2 ('))!.x < topMain.x, "siblings in flamegraph.pl order: its sorted lines put main2;… before main;… (';' > '2')");
  t.ok(main.x > 0);
  // A node's own samples come first, then its children (flamegraph.pl's sorted lines put "bash;main 2" before "bash;main;…").
  const execute = frames.find((f) => f.title.startsWith('execute_command ('))!;
  t.equal(execute.x, Math.round((10 + (1180 * 2) / 168) * 100) / 100);
  t.equal(frames[0]!.y, 182 - 34 - 16 + 1, 'root sits at the bottom');
  t.match(text, /height="182"/, '7 levels of 16 px plus 36 + 34 px padding');
});

t.test('inverted draws the root at the top, reverse merges from the leaves', async (t) => {
  const icicle = svgFrames(await svg(await load('small.folded'), { inverted: true }));
  t.equal(icicle[0]!.y, 36, 'root under the title');
  t.ok(icicle.every((f) => f.y >= 36));
  const reversed = titles(await svg(await load('small.folded'), { reverse: true }));
  t.ok(reversed.includes('default_idle_call (60 samples, 35.71%)'), 'leaf becomes a root child');
  t.ok(reversed.includes('f (3 samples, 1.79%)'), 'leaf f merged across main and main2');
});

t.test('minwidth leaves narrow frames out but keeps their weight in the parents', async (t) => {
  const text = await svg(await load('small.folded'), { minWidth: 50 });
  const all = titles(text);
  t.notOk(all.some((x) => x.startsWith('yyparse')), 'yyparse (5 of 168 → 35 px) is left out');
  t.ok(all.includes('bash (22 samples, 13.10%)'), 'bash keeps its total');
  t.ok(all.includes('all (168 samples, 100%)'));
  const percent = titles(await svg(await load('small.folded'), { minWidth: '10%' }));
  t.same(percent.filter((x) => / \(1[0-6] samples/.test(x)), [], 'frames under 10% (16.8 samples) are gone');
  t.match(await errorLine(svg(await load('small.folded'), { minWidth: 'wide' })), /minwidth must be pixels or a percentage/);
  t.match(await errorLine(svg(await load('small.folded'), { palette: 'rainbow' as never })), /unknown palette "rainbow"/);
});

t.test('a flame chart keeps stack order and merges only neighbours', async (t) => {
  // A flame chart of folded text keeps every line where it is (flamegraph.pl --flamechart).
  const chart = 'a;b 1\na;b 1\na 1\na;b 1\nc 1\na;b 1\n';
  const svgOfChart = async (options: Partial<SvgOptions>): Promise<string> => {
    const sink = stringSink();
    await writeSvgFromFolded(Readable.from([chart]), 'chart.folded', sink, { deterministic: true, flamechart: true, ...options });
    return sink.text();
  };
  // In x order, parents (lower, larger y) before their children.
  const frames = svgFrames(await svgOfChart({ width: 140 })).sort((p, q) => p.x - q.x || q.y - p.y);
  t.same(
    frames.map((f) => [f.title.replace(/ \(.*/, ''), f.x, f.width]),
    [
      ['all', 10, 120],
      ['a', 10, 80],
      ['b', 10, 40],
      ['b', 70, 20],
      ['c', 90, 20],
      ['a', 110, 20],
      ['b', 110, 20],
    ],
    'x follows time: a b (2), a alone (1), a b again as a new frame, c, a b',
  );
  t.match(await svgOfChart({}), /Flame Chart/, 'default title');
});

t.test('hostile names cannot open markup, carry control bytes or break the XML', async (t) => {
  const b = new ProfileBuilder();
  b.addFrames([{ name: '<img src=x onerror=alert(1)>', kind: 'user' }, { name: '</script><script>alert(1)</script>', kind: 'kernel' }], 3, { comm: ']]><x-evil "q" \'s\'' });
  b.addFrames([{ name: 'lone \ud800 surrogate \udfff and pair \ud83d\ude00', kind: 'jit' }, { name: 'ctl \u0000\u0007\u001b[2J\u007f\u009b\u2028', kind: 'user' }], 2);
  b.addFrames([{ name: 'x'.repeat(500) + '\ud83d\ude00', kind: 'user' }], 90);
  const profile = b.build({ title: 'T <b>\u001b]0;x\u0007' });
  const dir = mkdtempSync(join(tmpdir(), 'profile-svg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const deterministic of [true, false]) {
    const text = await svg(profile, { deterministic });
    for (const raw of ['<img', '<script>alert', '</script><script', ']]><x-evil', '"q"', "'s'", '\u001b', '\u0000', '\u0007', '\u007f', '\u009b']) {
      t.notOk(text.includes(raw), `no raw ${JSON.stringify(raw)} (deterministic ${deterministic})`);
    }
    t.notMatch(text, /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/, 'no lone surrogate');
    t.ok(text.includes('\ud83d\ude00'), 'valid surrogate pairs are kept');
    t.ok(text.includes('ctl \\x00\\x07\\x1b[2J\\x7f\\x9b'), 'control bytes shown as \\xNN');
    t.ok(text.includes('&lt;img src=x onerror=alert(1)&gt;'));
    writeFileSync(join(dir, `${deterministic}.svg`), text);
    t.equal(text.split('<![CDATA[').length, text.split(']]>').length, 'every ]]> closes one of our own CDATA sections');
  }
  const check = "import sys,xml.etree.ElementTree as E\nfor f in sys.argv[1:]:\n  E.parse(f)\nprint('ok')";
  t.equal(execFileSync('python3', ['-c', check, join(dir, 'true.svg'), join(dir, 'false.svg')], { encoding: 'utf8' }).trim(), 'ok', 'both parse as XML (expat)');
  t.equal(xmlText(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;');
  t.equal(xmlText('plain name'), 'plain name');
});

t.test('differential trees: red grew, blue shrank, tooltips show both sides', async (t) => {
  // BEFORE: grew 40, shrank 120, same 40 (200); AFTER: grew 60, shrank 20, same 20 (100).
  const before = await readFolded(Readable.from(['grew 40\nshrank 120\nsame 40\n']), 'before.folded');
  const after = await readFolded(Readable.from(['grew 60\nshrank 20\nsame 20\n']), 'after.folded');
  const tree = diffProfiles(before, after).tree;
  const text = await svg(tree);
  const frames = svgFrames(text);
  const by = (n: string): (typeof frames)[number] => frames.find((f) => f.title.startsWith(`${n} (`))!;
  t.equal(by('grew').title, 'grew (60 samples, 60.00%; before 40 samples, 20.00%; change +40.00%)');
  t.equal(by('grew').fill, 'rgb(255,0,0)', 'largest growth is full red');
  t.equal(by('shrank').title, 'shrank (20 samples, 20.00%; before 120 samples, 60.00%; change -40.00%)');
  t.equal(by('shrank').fill, 'rgb(0,0,255)');
  t.equal(by('same').fill, 'rgb(250,250,250)', 'same share (20% of each total) is white');
  const raw = svgFrames(await svg(tree, { normalizeDiff: false }));
  t.match(raw.find((f) => f.title.startsWith('same ('))!.title, /change -20\)$/, 'without normalising, raw counts are compared');
  t.match(raw.find((f) => f.title.startsWith('same ('))!.fill, /^rgb\(\d+,\d+,255\)$/, '… and 20 → 40 is a shrink');
  t.equal(diffColor(-1, 2), 'rgb(105,105,255)');
});

t.test('palettes: every one yields colours, kinds are coloured apart, hash is stable', async (t) => {
  for (const palette of PALETTES) t.match(frameColor('foo', 'user', { palette, colorByKind: true, hash: false }), /^rgb\(\d+,\d+,\d+\)$/, palette);
  const opts = { palette: 'hot' as const, colorByKind: true, hash: true };
  t.equal(frameColor('ext4_read', 'user', opts), frameColor('ext4_read', 'user', opts));
  t.match(frameColor('ext4_read', 'kernel', opts), /^rgb\(\d+,\d+,0\)$/, 'kernel frames orange');
  t.match(frameColor('x', 'jit', opts), /^rgb\(\d+,2\d\d,\d+\)$/, 'JIT frames green');
  t.not(frameColor('a', 'user', { ...opts, hash: false }), frameColor('b', 'user', { ...opts, hash: false }));
  t.equal(frameColor('-', 'user'), 'rgb(200,200,200)', 'separator frames grey');
});

t.test('numbers round like printf', async (t) => {
  t.equal(fixed(0.125, 2), '0.12', 'exact tie to even');
  t.equal(fixed(0.375, 2), '0.38');
  t.equal(fixed(2.5, 0), '2');
  t.equal(fixed(3.5, 0), '4');
  t.equal(fixed(1.005, 2), '1.00', '1.005 is below the tie in binary');
  t.equal(countText(1234567), '1,234,567');
  t.equal(countText(999), '999');
});

t.test('output is streamed in pieces, never one giant string', async (t) => {
  const b = new ProfileBuilder();
  for (let i = 0; i < 5000; i++) b.addFrames([{ name: `root${i % 7}`, kind: 'user' }, { name: `fn_${i}`, kind: 'user' }], 1);
  const pieces: number[] = [];
  await writeSvg(b.build(), { write: (chunk) => void pieces.push(chunk.length) }, { minWidth: 0 });
  t.ok(pieces.length > 10, `${pieces.length} pieces`);
  t.ok(Math.max(...pieces) < 200_000, `largest piece ${Math.max(...pieces)} characters`);
});

t.test('empty profiles draw a message; the output router writes SVG', async (t) => {
  t.match(await svg(new ProfileBuilder().build()), /No samples to draw/);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeProfile(await load('small.folded'), { format: 'svg' }, { render: { title: 'routed' } }, out);
  const text = Buffer.concat(chunks).toString('utf8');
  t.match(text, /<text id="title"[^>]*>routed<\/text>/);
  t.match(text, /<script type="text\/ecmascript"><!\[CDATA\[/, 'interactive by default');
  t.equal(SVG_DEFAULTS.width, 1200);
  t.equal(SVG_DEFAULTS.minWidth, 0.1);
});

t.test('count name from the profile unit; tree input keeps its order of arguments', async (t) => {
  const profile = (await load('small.folded')).withMetadata({ unit: 'nanoseconds' });
  t.match(titles(await svg(profile))[0]!, /^all \(168 nanoseconds, 100%\)$/);
  t.match(titles(await svg(buildCallTree(profile), { countName: 'ms' }))[0]!, /^all \(168 ms, 100%\)$/);
});
