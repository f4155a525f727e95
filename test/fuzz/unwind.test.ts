// Property tests for the unwind compiler (src/unwind) on real call frame information built here
// with gcc: a program's .eh_frame (pcrel/sdata4 pointers, remember/restore state, PLT expression),
// a library whose .eh_frame uses personality/LSDA augmentations and every rule of
// fixtures/unwind/directives.s, and .debug_frame of versions 1, 3 (64-bit DWARF) and 4.
// The frame section's bytes are mutated in place (bit flips, boundary values at aligned offsets,
// LEB128-breaking 0x80 runs, deletions and insertions kept to the section's size), then the
// whole file is compiled: the result is a table whose rows are sorted with known rules, or a
// one-line ProfileError naming the file and the section offset — never another exception or a hang.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ElfFile } from '../../src/symbolize/elf/file.js';
import { fromBytes } from '../../src/host/binary.js';
import { compileUnwindTable, decodeRow, type UnwindTable } from '../../src/unwind/index.js';
import { checkProperty, fc, resultOrProfileError } from '../helpers/fuzz.js';
import { requiresTools } from '../helpers/requires.js';

const SOURCES = join(import.meta.dirname, '..', '..', 'fixtures', 'unwind');

interface Seed {
  readonly bytes: Buffer;
  readonly start: number;
  readonly size: number;
}

function seedOf(path: string, section: string): Seed {
  const bytes = readFileSync(path);
  const s = new ElfFile(fromBytes(bytes, path)).section(section)!;
  return { bytes, start: s.offset, size: s.size };
}

const VALUES = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 0xfffffff0, 8, 16];
// Uniform in [0, 1): fast-check's doubles are uniform over their bit patterns (mostly tiny) and
// its integers favour bounds, which would put most edits on the first entry's length field.
const position = fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((n) => n / 1_000_000);
// Mostly value changes (which keep the entry chain readable and reach the instruction
// interpreter); some that break LEB128 values or move every later byte.
const edit = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), at: position, width: fc.constantFrom(1, 2, 4), value: fc.oneof(fc.constantFrom(...VALUES), fc.nat({ max: 0xffffffff })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('leb' as const), at: position, length: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('shift' as const), at: position, by: fc.integer({ min: -16, max: 16 }) }) },
);
type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

/** The seed's file with its frame section edited; the section keeps its size, so only its contents lie. */
function mutate(seed: Seed, edits: readonly Edit[]): Buffer {
  const out = Buffer.from(seed.bytes);
  const section = out.subarray(seed.start, seed.start + seed.size);
  for (const e of edits) {
    const at = Math.floor(e.at * section.length);
    if (e.kind === 'flip') section[at] = section[at]! ^ (1 << e.bit);
    else if (e.kind === 'write') {
      const aligned = at - (at % e.width);
      for (let i = 0; i < e.width && aligned + i < section.length; i++) section[aligned + i] = Math.floor(e.value / 2 ** (8 * i)) & 0xff;
    } else if (e.kind === 'leb') section.fill(0x80, at, Math.min(section.length, at + e.length));
    else {
      // Delete (by < 0) or insert (by > 0) bytes at `at`, the tail moving and the end cut or zero-filled.
      const copy = Buffer.from(section);
      if (e.by < 0) section.set(Buffer.concat([copy.subarray(0, at), copy.subarray(at - e.by), Buffer.alloc(-e.by)]).subarray(0, section.length));
      else section.set(Buffer.concat([copy.subarray(0, at), Buffer.alloc(e.by, 0x41), copy.subarray(at)]).subarray(0, section.length));
    }
  }
  return out;
}

function checkTable(table: UnwindTable): void {
  let last = -1;
  for (let i = 0; i < table.rowCount; i++) {
    const row = decodeRow(table, i);
    if (row.pc <= last) throw new Error(`row ${i} at 0x${row.pc.toString(16)} not after 0x${last.toString(16)}`);
    if (row.cfaRule > 6 || row.rbpRule > 2) throw new Error(`row ${i}: unknown rule ${row.cfaRule}/${row.rbpRule}`);
    last = row.pc;
  }
  for (let i = 1; i < table.functionStarts.length; i++) if (table.functionStarts[i]! <= table.functionStarts[i - 1]!) throw new Error('function starts not ascending');
}

t.test('mutated call frame information: a sorted table or a ProfileError with the section offset', async (t) => {
  if (!requiresTools(t, 'gcc')) return;
  const dir = mkdtempSync(join(tmpdir(), 'profile-fuzz-unwind-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gcc = (output: string, ...args: string[]): string => {
    execFileSync('gcc', [...args, '-o', join(dir, output)], { stdio: 'pipe' });
    return join(dir, output);
  };
  const frames = join(SOURCES, 'frames.c');
  const library = ['-shared', '-fPIC', '-nostartfiles'];
  const seeds = [
    seedOf(gcc('program', '-O2', '-fomit-frame-pointer', frames), '.eh_frame'),
    seedOf(gcc('directives.so', ...library, join(SOURCES, 'directives.s')), '.eh_frame'),
    seedOf(gcc('v1.so', '-O2', '-g', '-fno-asynchronous-unwind-tables', ...library, frames), '.debug_frame'),
    seedOf(gcc('dwarf64.so', '-O2', '-gdwarf-5', '-gdwarf64', '-fno-dwarf2-cfi-asm', '-fno-asynchronous-unwind-tables', ...library, frames), '.debug_frame'),
    seedOf(gcc('v4.so', ...library, join(SOURCES, 'debug-frame-v4.s')), '.debug_frame'),
  ];
  for (const seed of seeds) t.ok(compileUnwindTable(seed.bytes, 'seed')!.rowCount > 0, 'the seed compiles');

  let tables = 0;
  let errors = 0;
  await checkProperty(t, 'unwind tables (mutated .eh_frame / .debug_frame)', 300, [fc.nat(), fc.array(edit, { minLength: 1, maxLength: 3 })], async (index, edits) => {
    const bytes = mutate(seeds[index % seeds.length]!, edits);
    const outcome = await resultOrProfileError(() => compileUnwindTable(bytes, 'fuzz.elf'), { file: 'fuzz.elf' });
    if (outcome.ok) {
      tables++;
      if (outcome.value) checkTable(outcome.value);
    } else {
      errors++;
      if (!/^\.(eh|debug)_frame offset 0x[0-9a-f]+: /.test(outcome.error.message)) throw new Error(`error without the section offset: ${outcome.error.message}`);
    }
  });
  t.comment(`tables ${tables}, errors ${errors}`);
  t.ok(tables > 0 && errors > 0, 'mutations give both tables and errors');
});
