// The HTML report's data preparation, without a browser: pruning keeps totals, functions count
// once per stack, the embedded JSON cannot end its script element, the CSP hashes match. < 1 s.
import t from 'tap';
import { createHash } from 'node:crypto';
import { ProfileBuilder } from '../../src/profile/builder.js';
import { buildFlameTree, type FlameNode } from '../../src/render/tree.js';
import { HTML_DEFAULTS, hottestFunctions, prepareReport, renderHtml } from '../../src/render/html/index.js';
import { pruneTree, MERGED_NAME } from '../../src/render/html/prune.js';
import { embedJson, escapeHtml } from '../../src/render/html/page.js';

function profile() {
  const b = new ProfileBuilder();
  const f = (name: string) => ({ name, kind: 'user' as const });
  b.addFrames([f('a'), f('b'), f('c')], 1000);
  b.addFrames([f('a'), f('tiny1')], 1);
  b.addFrames([f('a'), f('tiny2'), f('x')], 2);
  b.addFrames([f('a'), f('rec'), f('rec'), f('rec')], 50);
  return b.build();
}

const sum = (node: FlameNode): number => node.children.reduce((s, c) => s + c.total, 0) + node.self;

t.test('pruning merges small children into one (merged) frame and keeps every total', async (t) => {
  const tree = buildFlameTree(profile());
  const pruned = pruneTree(tree, 0.01, 1000);
  const a = pruned.root.children[0]!;
  t.same(a.children.map((c) => [c.name, c.total]).sort(), [['(merged)', 3], ['b', 1000], ['rec', 50]]);
  t.equal(a.total, sum(a), 'children still add up to the parent');
  t.equal(pruned.root.total, 1053);
  t.equal(pruned.nodesBefore, 10);
  t.equal(pruned.nodesAfter, 8);
  t.equal(MERGED_NAME, '(merged)');
  const capped = pruneTree(tree, 0, 3);
  t.ok(capped.nodesAfter <= 3, 'the node cap raises the threshold');
});

t.test('functions count once per stack, however deep the recursion', async (t) => {
  const rows = hottestFunctions(profile(), 10);
  const rec = rows.find((r) => r[0] === 'rec')!;
  t.same(rec.slice(2), [50, 50]);
  const a = rows.find((r) => r[0] === 'a')!;
  t.same(a.slice(2), [0, 1053]);
  t.equal(rows[0]![0], 'a', 'sorted by total');
});

t.test('report data: preorder columns, processes, differential columns', async (t) => {
  const data = prepareReport(profile(), HTML_DEFAULTS);
  t.equal(data.tree.n.length, 10);
  t.equal(data.names[data.tree.n[0]!], 'all');
  t.same(data.tree.c.slice(0, 2), [1, 4]);
  t.equal(data.tree.t.reduce((x, y) => Math.max(x, y)), 1053);
  t.equal(data.tree.o, undefined);
  t.same(data.processes.map(([n, , total]) => [data.names[n], total]), [['a', 1053]]);
  const tree = buildFlameTree(profile());
  tree.otherTotal = 100;
  tree.children[0]!.otherTotal = 100;
  const diff = prepareReport(profile(), HTML_DEFAULTS, { tree, otherTotal: 100 });
  t.same(diff.tree.o!.slice(0, 3), [100, 100, 0]);
  t.equal(diff.otherTotal, 100);
  t.ok(diff.changes!.length > 0);
});

t.test('embedded JSON and HTML text cannot close or open elements', async (t) => {
  const json = embedJson({ name: '</script><!--<img>&\u2028\u2029' });
  t.notMatch(json, /[<>&\u2028\u2029]/);
  t.same(JSON.parse(json), { name: '</script><!--<img>&\u2028\u2029' });
  t.equal(escapeHtml('<a href="x">\'&\ud800'), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;\ufffd');
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
  t.notMatch(html, /https?:\/\//, 'no URL at all in the page');
});
