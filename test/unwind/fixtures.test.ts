// Unwind tables of binaries built here for one case each, checked against readelf -wF where it
// has an opinion and against the contract where it has none (which expression is the PLT's):
// every CFA rule the compiler maps (directives.s, through .cfi directives and raw bytes, in both
// .eh_frame with P/L/R/S augmentations and .debug_frame); .debug_frame of versions 1, 3 and 4 and
// of 64-bit DWARF; a separate debug file found by build-id; a binary without unwind information;
// corrupt input.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ProfileError } from '../../src/errors.js';
import { openFile } from '../../src/host/index.js';
import { ElfFile } from '../../src/symbolize/elf/file.js';
import { CfaRule, RbpRule, compileElfTable, compileUnwindTable, decodeRow, findRow, unwindTableFor, type UnwindTable } from '../../src/unwind/index.js';
import { requiresTools } from '../helpers/requires.js';
import { compareWithReadelf, readelfFrames } from './readelf.js';

const SOURCES = join(import.meta.dirname, '..', '..', 'fixtures', 'unwind');

function build(dir: string, output: string, ...args: string[]): string {
  const path = join(dir, output);
  execFileSync('gcc', [...args, '-o', path], { cwd: dir, stdio: 'pipe' });
  return path;
}

function agrees(t: Test, path: string, table: UnwindTable, section: '.eh_frame' | '.debug_frame'): void {
  const result = compareWithReadelf(table, readelfFrames(path, section));
  t.ok(result.rows > 0, `${path} ${section}: ${result.fdes} FDEs, ${result.rows} readelf rows compared`);
  t.same(result.mismatches, [], `${path} ${section}: every row agrees with readelf`);
}

function symbol(path: string, name: string): number {
  const line = execFileSync('nm', [path], { encoding: 'utf8' }).split('\n').find((l) => l.endsWith(` ${name}`));
  return parseInt(line!.split(' ')[0]!, 16);
}

/** The ProfileError `work` throws (a failed assertion when it returns or throws anything else). */
function profileError(t: Test, work: () => unknown): ProfileError | undefined {
  try {
    work();
  } catch (error) {
    if (error instanceof ProfileError) return error;
    t.fail(`not a ProfileError: ${String(error)}`);
    return undefined;
  }
  t.fail('no error');
  return undefined;
}

const rowAt = (table: UnwindTable, pc: number) => decodeRow(table, findRow(table, pc));

t.test('unwind fixtures', async (t) => {
  if (!requiresTools(t, 'readelf', 'gcc', 'objcopy', 'nm')) return;
  const dir = mkdtempSync(join(tmpdir(), 'profile-unwind-fixtures-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const frames = join(SOURCES, 'frames.c');

  t.test('every rule, in .eh_frame and .debug_frame', async (t) => {
    const so = build(dir, 'directives.so', '-shared', '-nostartfiles', join(SOURCES, 'directives.s'));
    const eh = unwindTableFor(so, { cacheDirectory: undefined })!;
    t.equal(eh.source, 'eh_frame');
    agrees(t, so, eh, '.eh_frame');
    const elf = new ElfFile(openFile(so)!);
    const debug = compileElfTable(elf, so, { debugFrameOnly: true })!;
    elf.source.close();
    t.equal(debug.kind, 'debug_frame');
    agrees(t, so, { ...debug, source: 'debug_frame', buildId: undefined }, '.debug_frame');

    // What readelf shows as `exp`: the PLT expression with its threshold, anything else INVALID.
    const fn = symbol(so, 'all_rules');
    const raw = execFileSync('readelf', ['-wN', '--debug-dump=frames-interp', so], { encoding: 'utf8' });
    const expLocs = [...raw.split('Contents of the .debug_frame')[0]!.matchAll(/^([0-9a-f]{16}) exp /gm)].map((m) => parseInt(m[1]!, 16));
    t.equal(expLocs.length, 3, 'three CFA expressions');
    t.same(expLocs.map((pc) => [rowAt(eh, pc).cfaRule, rowAt(eh, pc).cfaOffset]), [[CfaRule.INVALID, 0], [CfaRule.PLT, 10], [CfaRule.INVALID, 0]], 'deref: INVALID; PLT threshold 10; threshold 12: INVALID');
    const kinds = new Set<string>();
    for (let i = 0; i < eh.rowCount; i++) {
      const row = decodeRow(eh, i);
      kinds.add(`${row.cfaRule}/${row.rbpRule}`);
    }
    for (const [cfa, rbp, what] of [
      [CfaRule.RBP, RbpRule.OFFSET, 'CFA from rbp'],
      [CfaRule.RBP, RbpRule.INVALID, 'rbp in a register, an expression, a value or beyond s16'],
      [CfaRule.RBP, RbpRule.SAME, 'rbp restored to the CIE (never saved)'],
      [CfaRule.RSP, RbpRule.SAME, 'rbp same_value'],
      [CfaRule.INVALID, RbpRule.SAME, 'CFA from r12, deref expression, return address not at CFA-8'],
      [CfaRule.END, RbpRule.SAME, 'return address undefined'],
      [CfaRule.SIGNAL, RbpRule.SAME, "signal trampoline ('S')"],
      [CfaRule.NONE, RbpRule.SAME, 'gap between FDEs'],
    ] as const) t.ok(kinds.has(`${cfa}/${rbp}`), what);
    t.equal(rowAt(eh, symbol(so, 'signal_trampoline')).cfaRule, CfaRule.SIGNAL);
    t.equal(rowAt(eh, fn + 2).cfaOffset, 16, 'push rbp: rsp+16');
    t.same(eh.functionStarts.length, 3);
    t.equal(findRow(eh, eh.functionStarts[0]! - 1), -1, 'no row before the first FDE');
  });

  t.test('.debug_frame versions 1, 3, 4 and 64-bit DWARF', async (t) => {
    const common = ['-O2', '-fomit-frame-pointer', '-fno-asynchronous-unwind-tables', '-shared', '-fPIC', '-nostartfiles', frames];
    for (const [name, flags, version] of [
      ['v1.so', ['-g'], 1],
      ['v3.so', ['-gdwarf-4', '-fno-dwarf2-cfi-asm'], 3],
      ['dwarf64.so', ['-gdwarf-5', '-gdwarf64', '-fno-dwarf2-cfi-asm'], 3],
    ] as const) {
      const so = build(dir, name, ...flags, ...common);
      const dump = execFileSync('readelf', ['-wN', '--debug-dump=frames', so], { encoding: 'utf8' });
      t.match(dump, new RegExp(`Version:\\s+${version}\\b`), `${name}: version ${version}`);
      if (name === 'dwarf64.so') t.match(dump, /ffffffffffffffff CIE/, '64-bit CIE id');
      const table = unwindTableFor(so, { cacheDirectory: undefined })!;
      t.equal(table.source, 'debug_frame', `${name}: .eh_frame has no FDE, so .debug_frame`);
      agrees(t, so, table, '.debug_frame');
    }
    const v4 = build(dir, 'v4.so', '-shared', '-nostartfiles', join(SOURCES, 'debug-frame-v4.s'));
    const table = unwindTableFor(v4, { cacheDirectory: undefined })!;
    agrees(t, v4, table, '.debug_frame');
    t.equal(table.rowCount, 4, 'v4: three rows and the NONE after the function');
  });

  t.test('.debug_frame of a separate debug file found by build-id', async (t) => {
    const so = build(dir, 'split.so', '-O2', '-g', '-fno-asynchronous-unwind-tables', '-shared', '-fPIC', '-nostartfiles', '-Wl,--build-id', frames);
    const whole = unwindTableFor(so, { cacheDirectory: undefined })!;
    const id = /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', so], { encoding: 'utf8' }))![1]!;
    const debugDir = join(dir, 'debug');
    mkdirSync(join(debugDir, '.build-id', id.slice(0, 2)), { recursive: true });
    execFileSync('objcopy', ['--only-keep-debug', so, join(debugDir, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`)]);
    const stripped = join(dir, 'split-stripped.so');
    copyFileSync(so, stripped);
    execFileSync('objcopy', ['--strip-debug', stripped]);
    t.notMatch(execFileSync('readelf', ['-S', stripped], { encoding: 'utf8' }), /debug_frame/, 'the stripped copy has no .debug_frame');
    t.equal(unwindTableFor(stripped, { cacheDirectory: undefined, debugDirectories: [join(dir, 'nowhere')] }), undefined, 'without the debug file: no table');
    const table = unwindTableFor(stripped, { cacheDirectory: undefined, debugDirectories: [debugDir] })!;
    t.equal(table.source, 'debug-file debug_frame');
    t.equal(table.buildId, id);
    t.same(Buffer.from(table.rows), Buffer.from(whole.rows), 'the same rows as from the unstripped binary');
  });

  t.test('no unwind information at all', async (t) => {
    const so = build(dir, 'none.so', '-O2', '-fno-asynchronous-unwind-tables', '-fno-unwind-tables', '-shared', '-fPIC', '-nostartfiles', frames);
    t.equal(unwindTableFor(so, { cacheDirectory: undefined }), undefined);
    t.equal(compileUnwindTable(readFileSync(so), so), undefined);
  });

  t.test('errors name the file and the section offset', async (t) => {
    const program = build(dir, 'frames', '-O2', frames);
    const bytes = readFileSync(program);
    const elf = new ElfFile(openFile(program)!);
    const section = elf.section('.eh_frame')!;
    elf.source.close();
    const firstFde = section.offset + bytes.readUInt32LE(section.offset) + 4;
    const corrupt = Buffer.from(bytes);
    corrupt.writeUInt32LE(0x7ffffff0, firstFde);
    let error = profileError(t, () => compileUnwindTable(corrupt, 'corrupt.elf'));
    t.equal(error?.file, 'corrupt.elf');
    t.match(error?.message, /^\.eh_frame offset 0x[0-9a-f]+: entry length \d+ runs past the section end$/);
    t.equal(error?.toLine().split('\n').length, 1, 'one line');
    const badOp = Buffer.from(bytes);
    // The CIE's first initial instruction (after 4+4+1+"zR\0"+3 LEB bytes+1 aug length+1 encoding).
    badOp[section.offset + 17] = 0x3f;
    error = profileError(t, () => compileUnwindTable(badOp, 'badop.elf'));
    t.equal(error?.message, '.eh_frame offset 0x11: unknown call frame instruction 0x3f');
    error = profileError(t, () => unwindTableFor(join(dir, 'does-not-exist')));
    t.match(error?.message, /cannot open/);
    error = profileError(t, () => compileUnwindTable(Buffer.from('not an elf file at all, definitely not'), 'text.txt'));
    t.equal(error?.file, 'text.txt');
  });
});
