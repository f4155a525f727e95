import t from 'tap';
import { Readable } from 'node:stream';
import { foldedLines, readFolded, kindFromAnnotation, parseFoldedLine } from '../../src/profile/folded.js';
import { ProfileBuilder } from '../../src/profile/builder.js';
import { errorLine } from '../helpers/errors.js';

t.test('folded round trip keeps names with spaces and merges duplicates', async (t) => {
  const text = 'main;do work;leaf 3\nmain;other 2\nmain;do work;leaf 1\n';
  const profile = await readFolded(Readable.from([text]), 'x.folded');
  t.same(foldedLines(profile), ['main;do work;leaf 4', 'main;other 2']);
  t.equal(profile.totalWeight, 6);
});

t.test('annotations set kinds and are written once', async (t) => {
  t.equal(kindFromAnnotation('schedule_[k]'), 'kernel');
  t.equal(kindFromAnnotation('foo_[j]'), 'jit');
  t.equal(kindFromAnnotation('bar_[i]'), 'inline');
  t.equal(kindFromAnnotation('plain'), 'user');
  const profile = await readFolded(Readable.from(['a;schedule_[k] 1\n']), 'x');
  t.same(foldedLines(profile, { annotateKernel: true }), ['a;schedule_[k] 1']);
});

t.test('process frames from thread info', async (t) => {
  const b = new ProfileBuilder();
  const f = b.internFrame({ name: 'f', kind: 'user' });
  b.addStack([f], 2, { comm: 'app', pid: 10, tid: 11 });
  const p = b.build();
  t.same(foldedLines(p), ['app;f 2']);
  t.same(foldedLines(p, { processFrame: 'comm-pid' }), ['app-10;f 2']);
  t.same(foldedLines(p, { processFrame: 'comm-pid/tid' }), ['app-10/11;f 2']);
  t.same(foldedLines(p, { processFrame: 'none' }), ['f 2']);
});

t.test('control bytes in names never reach the output raw', async (t) => {
  const b = new ProfileBuilder();
  b.addFrames([{ name: 'evil\u001b[31mred\nx', kind: 'user' }], 1, { comm: 'c\u0007' });
  t.same(foldedLines(b.build()), ['c\\x07;evil\\x1b[31mred\\x0ax 1']);
});

t.test('bad lines name file and line', async (t) => {
  t.match(await errorLine(readFolded(Readable.from(['a;b 1\nnot folded\n']), 'in.folded')), /^profile: in\.folded:2: expected folded stack/);
  t.match(await errorLine(readFolded(Readable.from(['']), 'empty.folded')), /^profile: empty\.folded: input is empty/);
  t.same(parseFoldedLine('a b;c 12.5'), { frames: ['a b', 'c'], count: 12.5 });
});
