// The compiled unwind tables agree with readelf --debug-dump=frames-interp, row by row, on real
// binaries: Debian's libc, node and python3, and a program built here with gcc (frame pointers
// omitted, so CFA offsets change at every push; an early return that gcc wraps in
// DW_CFA_remember_state / restore_state; a VLA, whose frame is found from rbp; PLT stubs).
// Every FDE is compared (node: ~76k FDEs, ~370k rows; readelf prints 31 MB for it in ~1 s).
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CfaRule, decodeRow, findRow, unwindTableFor, type UnwindTable } from '../../src/unwind/index.js';
import { requiresTools } from '../helpers/requires.js';
import { compareWithReadelf, readelfFrames } from './readelf.js';

const FIXTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'unwind', 'frames.c');

function requireFile(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    if (process.env.CI === 'true') throw new Error(`CI: ${path} is missing`);
    return undefined;
  }
}

function check(t: Test, path: string, table: UnwindTable): void {
  const frames = readelfFrames(path, '.eh_frame');
  const result = compareWithReadelf(table, frames);
  t.comment(`${path}: ${result.fdes} FDEs, ${result.rows} readelf rows compared, ${result.skipped} FDEs overlapping or out of range; rules ${JSON.stringify(Object.fromEntries(result.rules))}`);
  t.ok(result.fdes > 0 && result.rows >= result.fdes, `${path}: rows compared`);
  t.same(result.mismatches.slice(0, 20), [], `${path}: every readelf row agrees (${result.mismatches.length} mismatches)`);
  t.ok(result.skipped <= frames.fdes.length / 100, `${path}: at most 1% of FDEs left out (${result.skipped})`);
  const starts = [...new Set(frames.fdes.filter((f) => f.begin > 0 && f.end > f.begin && f.end <= 2 ** 32).map((f) => f.begin))].sort((a, b) => a - b);
  t.same([...table.functionStarts], starts, `${path}: functionStarts are the distinct FDE starts`);
  let sorted = true;
  for (let i = 1; i < table.rowCount; i++) if (decodeRow(table, i).pc <= decodeRow(table, i - 1).pc) sorted = false;
  t.ok(sorted, `${path}: rows strictly ascending`);
}

t.test('system binaries', async (t) => {
  if (!requiresTools(t, 'readelf', 'gcc')) return;
  for (const path of ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/bin/python3', '/usr/bin/node']) {
    const real = requireFile(path);
    if (!real) {
      t.comment(`${path} missing: not compared`);
      continue;
    }
    const table = unwindTableFor(real, { cacheDirectory: undefined });
    t.ok(table, `${path}: a table`);
    if (table) {
      t.equal(table.source, 'eh_frame');
      check(t, real, table);
    }
  }
});

t.test('gcc -O2 -fomit-frame-pointer program', async (t) => {
  if (!requiresTools(t, 'readelf', 'gcc')) return;
  const dir = mkdtempSync(join(tmpdir(), 'profile-unwind-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const program = join(dir, 'frames');
  execFileSync('gcc', ['-O2', '-fomit-frame-pointer', '-o', program, FIXTURE]);
  const raw = execFileSync('readelf', ['--debug-dump=frames', program], { encoding: 'utf8' });
  t.match(raw, /DW_CFA_remember_state/, 'gcc emitted remember_state');
  t.match(raw, /DW_CFA_restore_state/, 'gcc emitted restore_state');
  const table = unwindTableFor(program, { cacheDirectory: undefined })!;
  t.ok(table);
  check(t, program, table);

  const rules = new Set<number>();
  for (let i = 0; i < table.rowCount; i++) rules.add(decodeRow(table, i).cfaRule);
  t.ok(rules.has(CfaRule.RBP), 'the VLA function has an rbp-based CFA');
  t.ok(rules.has(CfaRule.END), "_start's undefined return address ends the walk");

  // The PLT: readelf shows its expression as `exp`; ours must say which expression it is.
  const plt = execFileSync('readelf', ['-SW', program], { encoding: 'utf8' }).match(/\s\.plt\s+PROGBITS\s+([0-9a-f]+) [0-9a-f]+ ([0-9a-f]+)/);
  t.ok(plt, 'the program has a .plt');
  const start = parseInt(plt![1]!, 16);
  const size = parseInt(plt![2]!, 16);
  for (let pc = start + 16; pc < start + size; pc += 5) {
    const row = decodeRow(table, findRow(table, pc));
    t.equal(row.cfaRule, CfaRule.PLT, `.plt+0x${(pc - start).toString(16)} uses the PLT rule`);
    t.equal(row.cfaOffset, 11, 'with threshold 11');
  }
});
