import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { encodePprof } from '../../src/export/pprof.js';
import { loadProfile } from '../../src/input/index.js';
import { jsonErrorPosition } from '../../src/input/json-position.js';
import { foldedLines } from '../../src/profile/folded.js';
import { errorLine } from '../helpers/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'profile-input-'));
const fixtures = join(import.meta.dirname, '../../fixtures');
const after = join(fixtures, 'diff/after.folded');

t.test('formats are told apart by their first bytes, whatever the file is called', async (t) => {
  const expected = foldedLines(await loadProfile(after));
  const pprof = encodePprof(await loadProfile(after));
  const speedscope = readFileSync(join(fixtures, 'fuzz/speedscope-both.speedscope.json'));
  const cases: [string, Buffer][] = [
    ['gzipped-pprof.dat', pprof],
    ['raw-pprof.dat', gunzipSync(pprof)],
    ['folded.gz', gzipSync(readFileSync(after))],
  ];
  for (const [name, bytes] of cases) {
    writeFileSync(join(dir, name), bytes);
    t.same(foldedLines(await loadProfile(join(dir, name))), expected, name);
  }
  writeFileSync(join(dir, 'bom.txt'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('\n  '), speedscope]));
  t.same(foldedLines(await loadProfile(join(dir, 'bom.txt'))), foldedLines(await loadProfile(join(fixtures, 'fuzz/speedscope-both.speedscope.json'))), 'BOM and blank lines before JSON');
  t.equal((await loadProfile(join(dir, 'bom.txt'))).metadata.extra?.inputFormat, 'speedscope');
});

t.test('standard input: binary read whole, text streamed to collapse', async (t) => {
  const pprof = encodePprof(await loadProfile(after));
  const fromStdin = await loadProfile('-', {}, Readable.from([pprof.subarray(0, 1), pprof.subarray(1, 5), pprof.subarray(5)]));
  t.same(foldedLines(fromStdin), foldedLines(await loadProfile(after)), 'gzip magic split across chunks');
  const text = readFileSync(join(fixtures, 'collapse/perf/fields.txt'));
  const chunks = Array.from({ length: Math.ceil(text.length / 7) }, (_, i) => text.subarray(i * 7, i * 7 + 7));
  const perf = await loadProfile(undefined, {}, Readable.from(chunks));
  t.equal(perf.metadata.extra?.inputFormat, 'perf');
  t.same(foldedLines(perf), foldedLines(await loadProfile(join(fixtures, 'collapse/perf/fields.txt'))));
});

t.test('a folded frame starting with { is still folded; --input-format skips sniffing', async (t) => {
  writeFileSync(join(dir, 'brace.folded'), '{lambda};run 3\nmain 1\n');
  t.same(foldedLines(await loadProfile(join(dir, 'brace.folded'))), ['main 1', '{lambda};run 3']);
  t.match(await errorLine(loadProfile(join(dir, 'brace.folded'), { format: 'perf' })), /brace\.folded/);
});

t.test('JSON error positions', async (t) => {
  t.equal(jsonErrorPosition('{"a": [1, 2,]}'), 12);
  t.equal(jsonErrorPosition('{"a": 1} x'), 9);
  t.equal(jsonErrorPosition('{"a": "b'), 8);
  t.equal(jsonErrorPosition('[1, 2]'), -1);
  writeFileSync(join(dir, 'bad.json'), '{\n "a": 1,\n "b": tru\n}');
  t.match(await errorLine(loadProfile(join(dir, 'bad.json'))), /^profile: .*bad\.json:3: not valid JSON: unexpected "tru\\n}"$/);
  writeFileSync(join(dir, 'empty.gz'), gzipSync(Buffer.alloc(0)));
  t.match(await errorLine(loadProfile(join(dir, 'empty.gz'))), /empty\.gz: input is empty/);
});
