// The on-disk frame table read lazily: names come from the file as they are asked for, a run that
// asks for many reads the string bytes whole, a rewrite copies the old bytes from the old file, and
// another run replacing the file meanwhile changes nothing for a table already open.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { HOST, openFile } from '../../src/host/index.js';
import { FrameTable, type CachedFrame } from '../../src/symbolize/cache.js';
import { SymbolCache } from '../../src/symbolize/symbol-cache.js';

const BUILD_ID = '5f1e0c2a9b8d7766554433221100ffeeddccbbaa';
const COUNT = 6000;

/** Frames of address i: a long C++-like name, and for every third address an inlined call with file:line. */
function framesOf(i: number): CachedFrame[] {
  const name = `v8::internal::Runtime_Function${i}<std::basic_string<char, std::char_traits<char>>>(int, é${i % 7})`;
  return i % 3 === 0 ? [[name, `/src/file${i % 50}.cc`, 10 + (i % 400)], [`inlined${i % 97}`, `/src/inline${i % 11}.h`, i % 1000]] : [[name, null, 0]];
}

function framesIn(table: FrameTable, vaddr: number): CachedFrame[] {
  const record = table.find(vaddr);
  if (record < 0) return [];
  const frames: CachedFrame[] = [];
  for (let k = 0; k < table.recordLength(record); k++) {
    const frame = table.recordFrame(record, k);
    frames.push([table.name(frame), table.file(frame), table.line(frame)]);
  }
  return frames;
}

const bytesOf = (parts: Iterable<Uint8Array>): Buffer => Buffer.concat([...parts]);

t.test('a frame table read from its file as names are asked for', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'frame-table-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, `${BUILD_ID}.bin`);
  const built = new FrameTable(true);
  for (let i = 0; i < COUNT; i++) built.add(0x1000 + i * 16, framesOf(i));
  HOST.writeFileAtomic(path, built.serialize(BUILD_ID));
  const written = readFileSync(path);

  const lazy = new FrameTable(true);
  const source = openFile(path)!;
  t.ok(lazy.open(source, BUILD_ID), 'opened from the file');
  // A run replaces the file (atomic rename) while this table is open: the table keeps its own.
  HOST.writeFileAtomic(path, Buffer.from('replaced'));
  for (const i of [0, 1, 2, 3, 2999, COUNT - 1]) t.same(framesIn(lazy, 0x1000 + i * 16), framesOf(i), `address ${i}: its frames, read from the old file`);
  let same = 0;
  for (let i = 0; i < COUNT; i++) if (JSON.stringify(framesIn(lazy, 0x1000 + i * 16)) === JSON.stringify(framesOf(i))) same++;
  t.equal(same, COUNT, 'every address right, past the point where the string bytes are read whole');

  // New addresses, then a rewrite that copies the old string bytes from the file.
  const fresh = new FrameTable(true);
  HOST.writeFileAtomic(path, written);
  t.ok(fresh.open(openFile(path)!, BUILD_ID), 'the file put back opens');
  const inMemory = new FrameTable(true);
  t.ok(inMemory.load(readFileSync(path), BUILD_ID), 'and loads whole');
  for (const table of [fresh, inMemory]) for (let i = COUNT; i < COUNT + 500; i++) table.add(0x1000 + i * 16, framesOf(i));
  // Names of the base table looked up in one but not the other: the files must still be the same.
  t.same(framesIn(fresh, 0x1000 + 5 * 16), framesOf(5));
  const rewritten = bytesOf(fresh.serialize(BUILD_ID));
  t.ok(rewritten.equals(bytesOf(inMemory.serialize(BUILD_ID))), 'a rewrite from the file is byte for byte the rewrite from memory');
  HOST.writeFileAtomic(path, fresh.serialize(BUILD_ID));
  t.ok(readFileSync(path).equals(rewritten), 'written in parts, the same bytes');
  const reread = new FrameTable(true);
  t.ok(reread.open(openFile(path)!, BUILD_ID), 'the rewritten file opens');
  let right = 0;
  for (let i = 0; i < COUNT + 500; i++) if (JSON.stringify(framesIn(reread, 0x1000 + i * 16)) === JSON.stringify(framesOf(i))) right++;
  t.equal(right, COUNT + 500, 'old and new addresses named from the rewritten file');

  fresh.close();
  t.throws(() => {
    const other = new FrameTable(true);
    other.open(openFile(path)!, BUILD_ID);
    other.close();
    other.name(other.recordFrame(other.find(0x1000 + 7 * 16), 0));
  }, /after close/, 'a closed table is not read');
  reread.close();
  lazy.close();
});

t.test('a file that is not a frame table of this build-id is refused and left to the caller', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'frame-table-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'table.bin');
  const built = new FrameTable(false);
  for (let i = 0; i < 10; i++) built.addOne(0x2000 + i, `f${i}`);
  HOST.writeFileAtomic(path, built.serialize(BUILD_ID));
  const whole = readFileSync(path);
  HOST.writeFileAtomic(path, whole.subarray(0, whole.length - 1));
  const source = openFile(path)!;
  t.notOk(new FrameTable(false).open(source, BUILD_ID), 'one byte short: refused');
  t.ok(source.read(0, 4).length === 4, 'the source is still open for the caller to close');
  source.close();
  HOST.writeFileAtomic(path, whole);
  for (const [table, id, what] of [[new FrameTable(true), BUILD_ID, 'written without DWARF, asked with: refused'], [new FrameTable(false), BUILD_ID.replace(/^5/, '6'), 'another build-id: refused']] as const) {
    const refused = openFile(path)!;
    t.notOk(table.open(refused, id), what);
    refused.close();
  }
  const ok = new FrameTable(false);
  t.ok(ok.open(openFile(path)!, BUILD_ID), 'the whole file opens');
  t.equal(ok.name(ok.recordFrame(ok.find(0x2003), 0)), 'f3');
  ok.close();
});

t.test('a run that adds a few addresses writes only them, to a file of additions; many, and the table is written whole', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'frame-table-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const base = join(dir, 'v2', `${BUILD_ID}.bin`);
  const additions = join(dir, 'v2', `${BUILD_ID}.add.bin`);
  const run = (from: number, to: number): void => {
    const cache = new SymbolCache(dir, HOST);
    const table = cache.table(BUILD_ID, true);
    for (let i = from; i < to; i++) if (table.find(0x1000 + i * 16) < 0) table.add(0x1000 + i * 16, framesOf(i));
    cache.close();
  };
  const check = (count: number, what: string): void => {
    const cache = new SymbolCache(dir, HOST);
    const table = cache.table(BUILD_ID, true);
    let right = 0;
    for (let i = 0; i < count; i++) if (JSON.stringify(framesIn(table, 0x1000 + i * 16)) === JSON.stringify(framesOf(i))) right++;
    t.equal(right, count, what);
    t.equal(table.find(0x1000 + count * 16), -1, 'and nothing more');
    t.notOk(table.dirty, 'nothing to write back after reading');
    cache.close();
  };
  run(0, 1000);
  t.notOk(existsSync(additions) && statSync(additions).size > 100, 'a new table: written whole');
  const whole = readFileSync(base);
  run(900, 1050);
  t.ok(readFileSync(base).equals(whole), '50 more: the table file untouched');
  t.ok(statSync(additions).size < whole.length / 4, `they went to the file of additions (${statSync(additions).size} bytes)`);
  check(1050, 'the table and its additions: all 1,050 addresses');
  run(1050, 1100);
  check(1100, 'additions of two runs');
  run(1100, 1400);
  t.ok(readFileSync(base).length > whole.length, '300 more (past an eighth): the table written whole');
  t.ok(statSync(additions).size < 100, 'and the file of additions emptied');
  check(1400, 'all 1,400 addresses');
});
