// The on-disk cache of unwind tables (<dir>/unwind/v1/<build-id>.bin): a table read back is the
// table written; a cached file is what later calls return (shown by planting a different valid
// table under the build-id); truncated, bit-flipped, other-version and other-build-id files are
// ignored and rewritten with the right table.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROW_BYTES, deserializeTable, serializeTable, unwindCachePath, unwindTableFor, type UnwindTable } from '../../src/unwind/index.js';
import { requiresTools } from '../helpers/requires.js';

const FIXTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'unwind', 'frames.c');

const same = (a: UnwindTable, b: UnwindTable): boolean =>
  a.rowCount === b.rowCount && Buffer.from(a.rows).equals(Buffer.from(b.rows)) && Buffer.from(a.functionStarts.buffer, a.functionStarts.byteOffset, a.functionStarts.byteLength).equals(Buffer.from(b.functionStarts.buffer, b.functionStarts.byteOffset, b.functionStarts.byteLength)) && a.source === b.source && a.buildId === b.buildId;

t.test('unwind table cache', async (t) => {
  if (!requiresTools(t, 'gcc')) return;
  const dir = mkdtempSync(join(tmpdir(), 'profile-unwind-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const program = join(dir, 'frames');
  execFileSync('gcc', ['-O2', '-Wl,--build-id', '-o', program, FIXTURE]);
  const cacheDirectory = join(dir, 'cache');

  const fresh = unwindTableFor(program, { cacheDirectory: undefined })!;
  t.ok(fresh.buildId, 'the program has a build-id');
  const file = unwindCachePath(cacheDirectory, fresh.buildId!);
  t.equal(file, join(cacheDirectory, 'unwind', 'v1', `${fresh.buildId}.bin`));

  const first = unwindTableFor(program, { cacheDirectory })!;
  t.ok(existsSync(file), 'written on first use');
  t.ok(same(first, fresh), 'the first result is the compiled table');
  const written = readFileSync(file);
  t.ok(same(deserializeTable(written, fresh.buildId!)!, fresh), 'round trip: the file holds the same table');
  t.ok(same(unwindTableFor(program, { cacheDirectory })!, fresh), 'second use: the same table');
  t.equal(deserializeTable(written, '00' + fresh.buildId!.slice(2)), undefined, 'a file is refused for another build-id');

  // A valid file for this build-id with other rows is what the next call returns: it is read.
  const planted = { ...fresh, rows: fresh.rows.slice(ROW_BYTES), rowCount: fresh.rowCount - 1, buildId: fresh.buildId! };
  writeFileSync(file, serializeTable(planted));
  t.ok(same(unwindTableFor(program, { cacheDirectory })!, planted), 'the cached table is used');

  const damages: [string, (b: Buffer) => Buffer][] = [
    ['truncated', (b) => b.subarray(0, b.length - 5)],
    ['bit flipped in a row', (b) => { const c = Buffer.from(b); c[96 + 13] ^= 0x10; return c; }],
    ['other version', (b) => { const c = Buffer.from(b); c.writeUInt32LE(999, 4); return c; }],
    ['empty', () => Buffer.alloc(0)],
    ['not a table', () => Buffer.from('hello')],
  ];
  for (const [what, damage] of damages) {
    writeFileSync(file, damage(written));
    t.ok(same(unwindTableFor(program, { cacheDirectory })!, fresh), `${what}: ignored, the table is compiled`);
    t.ok(readFileSync(file).equals(written), `${what}: rewritten`);
  }
});

