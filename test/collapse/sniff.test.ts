// The one format sniffer (src/collapse/sniff.ts) on real inputs: fixture files of every text
// format, pprof as Go writes it (plain and gzipped), speedscope JSON from our exporter, an ELF
// binary. The head it reads is bounded by one limit, ends at a line and replays the input
// byte for byte; `render`'s decision (sniffStream) is the format `collapse` reads. < 1 s.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { collapse } from '../../src/collapse/index.js';
import { matchTextFormat, readHead, replay, sniffContainer, sniffStream, SNIFF_BYTES, SNIFF_LINES, textFormat } from '../../src/collapse/sniff.js';
import { toSpeedscope } from '../../src/export/speedscope.js';
import { readFolded } from '../../src/profile/folded.js';
import { errorLine } from '../helpers/errors.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures');
const fixture = (path: string): Buffer => readFileSync(join(FIXTURES, path));

/** The fixture text files and the format each is in. */
const TEXT: [string, string][] = [
  ['collapse/perf/process.txt', 'perf'],
  ['collapse/perf/fields.txt', 'perf'],
  ['collapse/bpftrace/ustack.txt', 'bpftrace'],
  ['collapse/bpftrace/kstack-ustack-comm.txt', 'bpftrace'],
  ['collapse/bcc/default.txt', 'bcc'],
  ['collapse/bcc/folded-delimited.txt', 'bcc'],
  ['render/small.folded', 'folded'],
  ['render/hostile.folded', 'folded'],
];

function chunked(bytes: Buffer, size: number): AsyncIterator<Buffer> {
  return (async function* () {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  })();
}

async function drain(source: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(typeof part === 'string' ? Buffer.from(part) : part);
  return Buffer.concat(parts);
}

t.test('containers are told by their first bytes', async (t) => {
  const pprof = fixture('fuzz/pprof-go.pb');
  t.equal(sniffContainer(pprof, 'cpu.pb'), 'pprof', 'Go pprof, uncompressed');
  t.equal(sniffContainer(fixture('fuzz/pprof-go.pb.gz'), 'cpu.pb.gz'), 'gzip', 'Go pprof, gzipped');
  const folded = fixture('render/small.folded');
  t.equal(sniffContainer(gzipSync(folded), 'x.gz'), 'gzip', 'gzipped folded text');
  const speedscope = Buffer.from(JSON.stringify(toSpeedscope(await readFolded(Readable.from([folded]), 'small.folded'))));
  t.equal(sniffContainer(speedscope, 'x.json'), 'json', 'speedscope from our exporter');
  t.equal(sniffContainer(Buffer.from('{a};b 3\n{c} 1\n'), 'x'), 'text', "a folded line starting with '{' is text");
  for (const [file] of TEXT) t.equal(sniffContainer(fixture(file), file), 'text', file);
});

t.test('text formats are told by their lines, and errors say what the input is instead', async (t) => {
  for (const [file, format] of TEXT) {
    const head = await readHead(chunked(fixture(file), 4096), file);
    t.equal(matchTextFormat(head.lines)?.name, format, `${file}: ${format}`);
    t.equal(textFormat(head.lines, file).name, format);
  }
  const lines = async (path: string): Promise<readonly string[]> => (await readHead(chunked(readFileSync(path), 4096), path)).lines;
  const nostacks = join(FIXTURES, 'collapse/errors/perf-no-stacks.txt');
  t.match(await errorLine(async () => textFormat(await lines(nostacks), nostacks)), /perf script output has no call stacks/);
  t.match(await errorLine(async () => textFormat(await lines('/bin/true'), '/bin/true')), /^profile: \/bin\/true:1: binary file \(ELF\)/);
  const unknown = join(FIXTURES, 'collapse/errors/unknown.txt');
  t.match(await errorLine(async () => textFormat(await lines(unknown), unknown)), /not a known stack format/);
  t.equal(matchTextFormat(await lines(unknown)), undefined, 'matchTextFormat does not throw');
});

t.test('the head: one byte limit, whole lines, the input replayed byte for byte', async (t) => {
  // 4,000 folded lines of ~90 bytes: the head stops after SNIFF_BYTES, at a line's end.
  const text = Buffer.from(Array.from({ length: 4000 }, (_, i) => `main;work_${i % 97};leaf_${'x'.repeat(i % 50)} ${i + 1}\n`).join(''));
  for (const size of [1, 1000, 1 << 16, 1 << 20]) {
    const chunks = chunked(text, size);
    const head = await readHead(chunks, 'big.folded');
    t.ok(head.bytes.length >= Math.min(SNIFF_BYTES, text.length), `${size}-byte chunks: at least ${SNIFF_BYTES} bytes held (${head.bytes.length})`);
    t.ok(head.bytes.length < SNIFF_BYTES + Math.max(size, 200), `${size}-byte chunks: no more than the chunk that crosses the limit`);
    t.equal(head.meaningful, Math.min(SNIFF_LINES, head.lines.length));
    t.ok(head.lines.every((line) => /\d$/.test(line)), 'only complete lines');
    t.ok((await drain(replay(head, chunks))).equals(text), `${size}-byte chunks: replay gives the input back`);
  }
  const blank = Buffer.from('\n'.repeat(100_000) + 'a;b 1\n');
  const head = await readHead(chunked(blank, 1 << 16), 'blank.folded');
  t.same(head.lines.filter((l) => l.length > 0), ['a;b 1'], 'blank lines are read past to the first line with content');
});

t.test("render's decision is the format collapse reads", async (t) => {
  const inputs: [string, Buffer][] = [...TEXT.map(([file]): [string, Buffer] => [file, fixture(file)]), ['truncated perf', fixture('collapse/errors/perf-truncated.txt')]];
  for (const [name, bytes] of inputs) {
    const sniffed = await sniffStream(Readable.from(chunked(bytes, 777) as unknown as AsyncIterable<Buffer>), name);
    t.ok((await drain(sniffed.stream)).equals(bytes), `${name}: the stream replays the input`);
    try {
      const read = (await collapse(Readable.from([bytes]), name)).metadata.extra?.inputFormat;
      t.equal(sniffed.format?.name, read, `${name}: ${read}`);
    } catch (error) {
      // A cut-off file: collapse chose the format and its parser names the bad line.
      t.match((error as Error).message, /^expected a perf script/, `${name}: the perf parser reports the cut-off line`);
      t.equal(sniffed.format?.name, 'perf', `${name}: sniffed as perf`);
    }
  }
  const gz = await sniffStream(Readable.from([gzipSync(fixture('render/small.folded'))]), 'x.gz');
  t.same([gz.container, gz.format], ['gzip', undefined], 'gzip is not text');
});
