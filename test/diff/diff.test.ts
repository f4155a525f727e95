import t from 'tap';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { changesJson, diffProfiles, formatChangesTable, functionChanges } from '../../src/diff/index.js';
import { loadProfile } from '../../src/input/index.js';
import { readFolded } from '../../src/profile/folded.js';
import type { CallTree } from '../../src/render/calltree.js';
import { golden } from '../helpers/svg.js';

const fixtures = join(import.meta.dirname, '../../fixtures/diff');
const folded = (text: string) => readFolded(Readable.from([text]), 'x.folded');

/** The node at `path` of names from the root's children down, or undefined. */
function find(tree: CallTree, ...path: string[]): number | undefined {
  let node = 0;
  for (const name of path) {
    let next = -1;
    for (let i = 1; i < tree.size && next < 0; i++) if (tree.parent[i] === node && tree.names[tree.key[i]!] === name) next = i;
    if (next < 0) return undefined;
    node = next;
  }
  return node;
}

t.test('normalisation maths on a hand-made pair', async (t) => {
  // BEFORE: a 1, b 3 (total 4). AFTER: a 3, b 3, c 2 (total 8).
  const before = await folded('m;a 1\nm;b 3\n');
  const after = await folded('m;a 3\nm;b 3\nm;c 2\n');
  const rows = new Map(functionChanges(before, after, true).map((r) => [r.name, r]));
  // a: 25% → 37.5% = +12.5 points; scaled BEFORE 1×8/4 = 2 → +1 sample.
  t.equal(rows.get('a')!.selfPoints, 12.5);
  t.equal(rows.get('a')!.selfDelta, 1);
  // b: 75% → 37.5% = −37.5 points; 3×2 = 6 → −3 samples.
  t.equal(rows.get('b')!.selfPoints, -37.5);
  t.equal(rows.get('b')!.totalDelta, -3);
  // c only in AFTER: 0 → 25%.
  t.same(rows.get('c')!.before, { self: 0, total: 0 });
  t.equal(rows.get('c')!.selfPoints, 25);
  t.equal(rows.get('m')!.totalPoints, 0, 'the common root does not change share');
  t.same([...rows.keys()].slice(0, 2), ['b', 'c'], 'biggest change in points first');

  const raw = new Map(functionChanges(before, after, false).map((r) => [r.name, r]));
  t.equal(raw.get('a')!.selfDelta, 2, 'raw: 3 − 1');
  t.equal(raw.get('b')!.selfDelta, 0);
  t.equal(raw.get('m')!.totalDelta, 4);
  t.equal(functionChanges(before, after, false)[0]!.name, 'm', 'raw ordering by samples');
});

t.test('recursion counts a stack once in total; empty BEFORE does not divide by zero', async (t) => {
  const before = await folded('f;f;f 4\n');
  const after = await folded('f;g 4\n');
  const f = functionChanges(before, after, true).find((r) => r.name === 'f')!;
  t.same(f.before, { self: 4, total: 4 });
  t.same(f.after, { self: 0, total: 4 });
  const empty = await folded('x 0\n');
  const rows = functionChanges(empty, after, true);
  t.ok(rows.every((r) => Number.isFinite(r.selfPoints) && Number.isFinite(r.selfDelta)));
});

t.test('the tree is shaped like AFTER, carries BEFORE, and keeps frames of one side', async (t) => {
  const before = await loadProfile(join(fixtures, 'before.folded'));
  const after = await loadProfile(join(fixtures, 'after.folded'));
  const diff = diffProfiles(before, after);
  const tree = diff.tree;
  t.equal(tree.total[0], 400);
  t.equal(tree.other![0], 200);
  const parse = find(tree, 'app', 'main', 'handle_request', 'parse_json')!;
  t.same([tree.total[parse], tree.self[parse], tree.other![parse], tree.otherSelf![parse]], [120, 120, 20, 20]);
  const gone = find(tree, 'app', 'main', 'handle_request', 'old_path')!;
  t.same([tree.total[gone], tree.other![gone]], [0, 20], 'BEFORE-only frame present with zero width');
  const added = find(tree, 'app', 'main', 'handle_request', 'new_cache')!;
  t.same([tree.total[added], tree.other![added]], [20, 0], 'AFTER-only frame shows 0 before');
  t.equal(diff.profile.frames[tree.frameIds[tree.key[gone]!]!]!.name, 'old_path', 'frame ids index the shared frame table');

  const negated = diffProfiles(before, after, { negate: true }).tree;
  t.equal(negated.total[0], 200);
  t.equal(negated.other![0], 400);
  t.same([negated.total[find(negated, 'app', 'main', 'handle_request', 'old_path')!], negated.total[find(negated, 'app', 'main', 'handle_request', 'new_cache')!]], [20, 0]);
});

t.test('golden table and JSON of the fixture pair', async (t) => {
  const before = await loadProfile(join(fixtures, 'before.folded'));
  const after = await loadProfile(join(fixtures, 'after.folded'));
  for (const normalize of [true, false]) {
    const rows = functionChanges(before, after, normalize);
    const summary = { beforeTotal: 200, afterTotal: 400, normalize, unit: 'samples' };
    const name = normalize ? 'normalized' : 'raw';
    const table = formatChangesTable(rows, summary);
    t.equal(table, golden(join(fixtures, `results/${name}.txt`), table), `${name} table`);
    const json = JSON.stringify(changesJson(rows, summary), null, 2) + '\n';
    t.equal(json, golden(join(fixtures, `results/${name}.json`), json), `${name} JSON`);
  }
  const top = functionChanges(before, after, true).slice(0, 4).map((r) => r.name);
  t.same(top, ['parse_json', 'compress', 'deflate', 'old_path'], 'the known changes lead');
});

t.test('names cannot reach the terminal raw', async (t) => {
  const before = await folded('a;x 1\n');
  const after = await folded('a;evil\u001b[2J\u009b31m\u202etxt 1\n');
  const table = formatChangesTable(functionChanges(before, after, true), { beforeTotal: 1, afterTotal: 1, normalize: true, unit: 'samples' });
  t.notMatch(table, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  t.match(table, /evil\\x1b\[2J\\x9b31m\\u202etxt/);
});
