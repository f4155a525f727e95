// The HTML report's data preparation, without a browser: pruning keeps totals, functions count
// once per stack, the embedded JSON cannot end its script element, the CSP hashes match. < 1 s.
import t from 'tap';
import { createHash } from 'node:crypto';
import { ProfileBuilder } from '../../src/profile/builder.js';
import { Readable } from 'node:stream';
import { readFolded } from '../../src/profile/folded.js';
import { buildCallTree, childLists, type CallTree } from '../../src/render/calltree.js';
import { callTreeFromFolded } from '../../src/render/calltree.js';
import { HTML_DEFAULTS, hottestFunctions, prepareReport, renderHtml } from '../../src/render/html/index.js';
import { pruneTree, MERGED_NAME } from '../../src/render/html/prune.js';
import { embedJson, escapeHtml } from '../../src/render/html/page.js';
import { CONTINUE, LAST, packColumn, packReport } from '../../src/render/html/pack.js';
import { readFileSync } from 'node:fs';

function profile() {
  const b = new ProfileBuilder();
  const f = (name: string) => ({ name, kind: 'user' as const });
  b.addFrames([f('a'), f('b'), f('c')], 1000);
  b.addFrames([f('a'), f('tiny1')], 1);
  b.addFrames([f('a'), f('tiny2'), f('x')], 2);
  b.addFrames([f('a'), f('rec'), f('rec'), f('rec')], 50);
  return b.build();
}

t.test('pruning merges small children into one (merged) frame and keeps every total', async (t) => {
  const tree = buildCallTree(profile());
  const pruned = pruneTree(tree, 0.01, 1000);
  const nameOf = (i: number) => tree.names[tree.key[i]!]!;
  const a = Array.from({ length: tree.size }, (_, i) => i).find((i) => i > 0 && nameOf(i) === 'a')!;
  const kept = Array.from({ length: tree.size }, (_, i) => i).filter((i) => tree.parent[i] === a && pruned.keep[i] === 1);
  t.same(kept.map((i) => [nameOf(i), tree.total[i]]).sort(), [['b', 1000], ['rec', 50]]);
  t.equal(pruned.merged[a], 3, 'the merged frame carries the small children\'s totals');
  t.equal(pruned.hasMerged[a], 1);
  t.equal(tree.total[0], 1053);
  t.equal(pruned.nodesBefore, 10);
  t.equal(pruned.nodesAfter, 8);
  t.equal(MERGED_NAME, '(merged)');
  const capped = pruneTree(tree, 0, 3);
  t.ok(capped.nodesAfter <= 3, 'the node cap raises the threshold');
  // In the page's columns every frame's children still add up to it.
  const data = prepareReport(profile(), { ...HTML_DEFAULTS, minFraction: 0.01 });
  const { t: totals, s: selfs, c: counts } = data.tree;
  let index = 0;
  const check = (): number => {
    const i = index++;
    let children = 0;
    for (let j = 0; j < counts[i]!; j++) children += check();
    t.equal(selfs[i]! + children, totals[i], `frame ${data.names[data.tree.n[i]!]} adds up`);
    return totals[i]!;
  };
  check();
  t.equal(index, 8);
});

t.test('the call tree merges frames by name and kind, and folded text gives the same tree as a Profile', async (t) => {
  const folded = 'a;b;c 1000\na;tiny1 1\na;tiny2;x 2\na;rec;rec;rec 50\na;b;c 5\n# comment\nk_[k];a 0\nk_[k];a 3\n';
  const direct = await callTreeFromFolded(Readable.from([folded]), 'x.folded');
  const viaProfile = buildCallTree(await readFolded(Readable.from([folded]), 'x.folded'));
  // Folded frames have no profile frame ids; everything else must agree.
  const shape = (tree: CallTree): unknown => {
    const { start, list } = childLists(tree);
    const node = (i: number): unknown => ({
      name: i === 0 ? 'all' : tree.names[tree.key[i]!],
      kind: i === 0 ? 'process' : tree.kinds[tree.key[i]!],
      total: tree.total[i],
      self: tree.self[i],
      children: Array.from(list.subarray(start[i], start[i + 1]), node),
    });
    return node(0);
  };
  t.same(shape(direct), shape(viaProfile));
  t.same(shape(buildCallTree(profile())), {
    name: 'all', kind: 'process', total: 1053, self: 0, children: [{
      name: 'a', kind: 'user', total: 1053, self: 0, children: [
        { name: 'b', kind: 'user', total: 1000, self: 0, children: [{ name: 'c', kind: 'user', total: 1000, self: 1000, children: [] }] },
        { name: 'tiny1', kind: 'user', total: 1, self: 1, children: [] },
        { name: 'tiny2', kind: 'user', total: 2, self: 0, children: [{ name: 'x', kind: 'user', total: 2, self: 2, children: [] }] },
        { name: 'rec', kind: 'user', total: 50, self: 0, children: [{ name: 'rec', kind: 'user', total: 50, self: 0, children: [{ name: 'rec', kind: 'user', total: 50, self: 50, children: [] }] }] },
      ],
    }],
  }, 'the profile\'s stacks merged under one root');
  const functions = (tree: CallTree) => Object.fromEntries(tree.names.map((name, key) => [name, [tree.functionSelf![key], tree.functionTotal![key]]]).filter(([, [, total]]) => Number(total) > 0));
  t.same(functions(direct), functions(viaProfile));
  t.same(functions(direct).rec, [50, 50], 'recursion counted once per stack');
  t.equal(direct.kinds[direct.names.indexOf('k_[k]')], 'kernel', 'annotated names keep their kind');
  await t.rejects(callTreeFromFolded(Readable.from(['a;b 1\nno count here\n']), 'bad.folded'), { file: 'bad.folded', line: 2, message: /expected folded stack/ });
});

t.test('functions count once per stack, however deep the recursion', async (t) => {
  const rows = hottestFunctions(profile(), 10);
  const rec = rows.find((r) => r[0] === 'rec')!;
  t.same(rec.slice(2), [50, 50]);
  const a = rows.find((r) => r[0] === 'a')!;
  t.same(a.slice(2), [0, 1053]);
  t.equal(rows[0]![0], 'c', 'sorted by self');
});

t.test('hottest functions leave out process frames and placeholders; names carry file:line; a one-line summary', async (t) => {
  const b = new ProfileBuilder();
  b.addFrames([{ name: 'main', kind: 'user', file: 'src/main.c', line: 12 }, { name: '[unknown]', kind: 'user' }], 900, { comm: 'cc1', pid: 7 });
  b.addFrames([{ name: 'main', kind: 'user', file: 'src/main.c', line: 12 }, { name: '[libc.so.6]', kind: 'user', module: '/usr/lib/libc.so.6' }], 500, { comm: 'cc1', pid: 7 });
  b.addFrames([{ name: 'main', kind: 'user', file: 'src/main.c', line: 12 }, { name: 'parse', kind: 'inline', file: 'src/parse.h', line: 40 }], 30, { comm: 'cc1', pid: 7 });
  b.addFrames([{ name: 'tick', kind: 'kernel', module: '[kernel.kallsyms]' }], 20, { comm: 'cc1', pid: 7 });
  const profile = b.build({ samples: 1460, durationSeconds: 10, frequencyHz: 99, dropped: { 'stack-map-full': 4 } });
  const data = prepareReport(profile, HTML_DEFAULTS);
  const rows = data.functions.map(([n, , self, total]) => [data.names[n], self, total]);
  t.same(rows, [['parse', 30, 30], ['tick', 20, 20], ['main', 0, 1430]], 'hottest self first; no [unknown], [libc.so.6] or cc1');
  const where = Object.fromEntries(data.locations.map(([n, location]) => [data.names[n], location]));
  t.same(where, { main: 'src/main.c:12', '[libc.so.6]': '/usr/lib/libc.so.6', parse: 'src/parse.h:40', tick: '[kernel.kallsyms]' });
  t.equal(data.summary, '1,460 samples \u00b7 10.0 s at 99 Hz \u00b7 1 process \u00b7 4 dropped (stack-map-full 4)');
  t.same(data.kinds.map((kind) => kind.key), ['user', 'kernel', 'jit', 'inline', 'process', 'merged']);
});

t.test('report data: preorder columns, processes, differential columns', async (t) => {
  const data = prepareReport(profile(), HTML_DEFAULTS);
  t.equal(data.tree.n.length, 10);
  t.equal(data.names[data.tree.n[0]!], 'all');
  t.same(data.tree.c.slice(0, 2), [1, 4]);
  t.equal(data.tree.t.reduce((x, y) => Math.max(x, y)), 1053);
  t.equal(data.tree.o, undefined);
  t.same(data.processes.map(([n, , total]) => [data.names[n], total]), [['a', 1053]]);
  // The other side: 100 at the root and at `a` (node 1), nothing below.
  const same = buildCallTree(profile());
  const tree = { ...same, functionSelf: undefined, functionTotal: undefined, other: Float64Array.from({ length: same.size }, (_, i) => (i < 2 ? 100 : 0)) };
  const diff = prepareReport(profile(), HTML_DEFAULTS, { tree, otherTotal: 100 });
  t.same(diff.tree.o!.slice(0, 3), [100, 100, 0]);
  t.equal(diff.otherTotal, 100);
  t.ok(diff.changes!.length > 0);
});

t.test('embedded JSON and HTML text cannot close or open elements', async (t) => {
  const json = embedJson({ name: '</script><!--<img>&\u2028\u2029' });
  t.notMatch(json, /[<>&\u2028\u2029]/);
  t.same(JSON.parse(json), { name: '</script><!--<img>&\u2028\u2029' });
  t.equal(escapeHtml('<a href="x">\'&\ud800'), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#65533;');
  t.equal(escapeHtml('caf\u00e9 \u{1f525}'), 'caf&#233; &#128293;', 'non-ASCII as character references');
  const ascii = embedJson({ name: 'caf\u00e9 \u{1f525} \u2028' });
  t.match(ascii, /^[\x20-\x7e]*$/, 'embedded JSON is printable ASCII');
  t.same(JSON.parse(ascii), { name: 'caf\u00e9 \u{1f525} \u2028' });
});

t.test('columns are packed five bits a character, and the page unpacks with the same alphabets', async (t) => {
  t.equal(packColumn([0, 31, 32, 1023, 1024, 2 ** 40 + 5]), 'Af' + 'hA' + '/f' + 'hgA' + 'hgggggggF');
  t.same(packColumn([1, 2.5]), [1, 2.5], 'a fractional column stays an array');
  t.same(packColumn([1, -1]), [1, -1]);
  const packed = packReport(prepareReport(profile(), HTML_DEFAULTS)) as { tree: Record<string, unknown> };
  t.same(Object.keys(packed.tree).sort(), ['kc', 'n', 't'], 'self weights are not embedded (the page derives them)');
  const data = prepareReport(profile(), HTML_DEFAULTS);
  t.equal(packed.tree.kc, packColumn(data.tree.c.map((c, i) => c * 8 + data.tree.k[i]!)), 'kind and child count share a column');
  const script = readFileSync(new URL('../../templates/html/report/columns.js', import.meta.url), 'utf8');
  t.match(script, `const LAST = '${LAST}';`);
  t.match(script, `const CONTINUE = '${CONTINUE}';`);
  const html = renderHtml(profile(), { ...HTML_DEFAULTS, title: 'caf\u00e9 \u2192' });
  t.match(html, /^[\x00-\x7f]*$/, 'the whole page is ASCII (chromium decodes it on its fast path)');
});

t.test('the Content-Security-Policy allows exactly the inline script and style by hash', async (t) => {
  const html = renderHtml(profile(), HTML_DEFAULTS);
  const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)![1]!.replace(/&#39;/g, "'");
  t.match(csp, /^default-src 'none'; /);
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
  const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
  t.match(csp, `script-src ${hash(script)};`);
  t.match(csp, `style-src ${hash(style)};`);
  // The only URLs are the XML namespace names d3-selection creates SVG elements with: names, never fetched.
  const urls = new Set(html.match(/https?:\/\/[^\s"'`)]*/g) ?? []);
  t.ok([...urls].every((url) => url.startsWith('http://www.w3.org/')), `no URL but namespace names (${[...urls].join(', ')})`);
});
