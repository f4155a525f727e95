import t from 'tap';
import { Readable } from 'node:stream';
import { forEachLine } from '../../src/io/lines.js';

async function lines(chunks: Buffer[]): Promise<string[]> {
  const out: string[] = [];
  await forEachLine(Readable.from(chunks, { objectMode: true }), (line) => out.push(line));
  return out;
}

t.test('ASCII chunks after a split multi-byte character still decode as UTF-8', async (t) => {
  const bytes = Buffer.from('x\u20ac\r\ny\nzz\u00e9 \u{1f600}\nend', 'utf8');
  // One byte per chunk: every multi-byte sequence is split, and ASCII chunks follow them.
  const single = [...bytes].map((b) => Buffer.from([b]));
  t.same(await lines(single), ['x\u20ac', 'y', 'zz\u00e9 \u{1f600}', 'end']);
  t.same(await lines([bytes]), ['x\u20ac', 'y', 'zz\u00e9 \u{1f600}', 'end']);
});

t.test('bytes that are not UTF-8 decode as replacement characters, as before', async (t) => {
  t.same(await lines([Buffer.from([0x61, 0xff, 0x0a, 0x62])]), ['a\ufffd', 'b']);
});
