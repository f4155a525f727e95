// Property tests for the ELF reader (src/symbolize/elf: headers, program and section headers,
// build-id notes, .gnu_debuglink, .symtab/.dynsym) and for DWARF through libdw, on copies of a
// real small program built here with gcc -g (prog.c and lib.c of fixtures/elf, with inline
// chains). Bytes are overwritten where they matter — header fields, section and program headers,
// symbol entries, notes, and each DWARF section — with random and boundary values.
//
// ELF: only an ElfError may leave the reader, and look-ups stay inside the file. DWARF: the
// damaged file goes through the whole symbolizer (symbolizeWithReport, libdw opened on the file);
// it must return a profile in bounded time whatever libdw makes of it: every frame named or kept
// as `[module+0x…]`, never an exception. A libdw crash would kill this process: the input of the
// case running is always at fixtures/build/fuzz-elf/current-PID.elf, to reproduce it.
// Local ~5 s; CI (1,000 cases per property) ~10 s, plus ~10 s of tap start-up and gcc.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openFile } from '../../src/host/index.js';
import type { ProcessSnapshot, RawProfile } from '../../src/profile/raw.js';
import { ElfError, ElfFile, type Section } from '../../src/symbolize/elf/file.js';
import { readSymbols } from '../../src/symbolize/elf/symbols.js';
import { symbolizeWithReport } from '../../src/symbolize/index.js';
import type { ByteSource, SymbolHost } from '../../src/symbolize/source.js';
import { ROOT } from '../helpers/cli.js';
import { CASE_TIMEOUT_MS, checkProperty, fc } from '../helpers/fuzz.js';
import { requiresTools } from '../helpers/requires.js';


/** A non-ElfError, with where it came from (the first frames of its stack). */
function escaped(error: unknown): Error {
  const where = error instanceof Error ? (error.stack ?? '').split('\n').slice(1, 4).map((l) => l.trim()).join(' < ') : '';
  return new Error(`escaped ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)} at ${where}`);
}

function memorySource(bytes: Buffer, path = 'fuzz.elf'): ByteSource {
  return {
    size: bytes.length,
    path,
    read: (offset, length) => bytes.subarray(Math.max(0, offset), Math.max(0, Math.min(bytes.length, offset + length))),
    close: () => undefined,
  };
}

type Region = { readonly start: number; readonly end: number; readonly name: string };

/** Where the reader's decisions come from: header fields, header tables, symbol entries, notes, DWARF. */
function regionsOf(bytes: Buffer, elf: ElfFile): Region[] {
  const regions: Region[] = [{ start: 0, end: 64, name: 'ELF header' }];
  const phoff = Number(bytes.readBigUInt64LE(32));
  const phnum = bytes.readUInt16LE(56);
  regions.push({ start: phoff, end: phoff + phnum * 56, name: 'program headers' });
  const shoff = Number(bytes.readBigUInt64LE(40));
  const shnum = bytes.readUInt16LE(60);
  regions.push({ start: shoff, end: shoff + shnum * 64, name: 'section headers' });
  for (const s of elf.sections) {
    if (s.size === 0 || s.type === 8) continue;
    if (/^\.(symtab|dynsym|strtab|dynstr|shstrtab|note\..*|gnu_debuglink|debug_.*)$/.test(s.name)) regions.push({ start: s.offset, end: s.offset + s.size, name: s.name });
  }
  return regions.filter((r) => r.end > r.start && r.end <= bytes.length);
}

/** Overwrites of 1, 2, 4 or 8 bytes at aligned offsets with boundary and random values. */
const VALUES = [0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0xffffn, 0x7fffffffn, 0xffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 24n, 64n, 56n];
const write = fc.record({
  at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
  width: fc.constantFrom(1, 2, 4, 8),
  value: fc.oneof(fc.constantFrom(...VALUES), fc.bigInt({ min: 0n, max: 0xffffffffffffffffn })),
});
const edit = fc.record({ region: fc.nat(), writes: fc.array(write, { minLength: 1, maxLength: 6 }), truncate: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 10 }) });

function applyEdit(seed: Buffer, regions: readonly Region[], e: { region: number; writes: { at: number; width: number; value: bigint }[]; truncate: number | null }): Buffer {
  const bytes = Buffer.from(seed);
  const region = regions[e.region % regions.length]!;
  for (const w of e.writes) {
    const span = region.end - region.start;
    const at = region.start + Math.floor((w.at * span) / w.width) * w.width;
    if (at + w.width > bytes.length) continue;
    const value = w.value & ((1n << BigInt(8 * w.width)) - 1n);
    for (let i = 0; i < w.width; i++) bytes[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
  }
  return e.truncate === null ? bytes : bytes.subarray(0, Math.floor(e.truncate * bytes.length));
}

/** Everything the symbolizer asks of an ELF file; only an ElfError may come out. */
function readEverything(elf: ElfFile, probes: readonly number[]): void {
  elf.buildId();
  elf.debugLink();
  for (const s of elf.sections as Section[]) {
    try {
      elf.sectionData(s);
    } catch (error) {
      if (!(error instanceof ElfError)) throw error;
    }
  }
  for (const p of probes) elf.vaddrOfOffset(p);
  const symbols = readSymbols([elf]);
  for (const p of probes) {
    const found = symbols.lookup(p);
    if (found && typeof found.name !== 'string') throw new Error('a symbol without a name');
  }
}

function run(): void {
  const dir = join(ROOT, 'fixtures', 'build', 'fuzz-elf');
  mkdirSync(dir, { recursive: true });
  // Left behind only when a case kills the process: then it is the input to reproduce.
  t.teardown(() => rmSync(join(dir, `current-${process.pid}.elf`), { force: true }));
  const sources = join(ROOT, 'fixtures', 'elf');
  const program = join(dir, 'prog');
  execFileSync('gcc', ['-O2', '-g', '-fPIE', '-pie', '-o', program, join(sources, 'prog.c'), join(sources, 'lib.c')]);
  const seed = readFileSync(program);
  const seedElf = new ElfFile(memorySource(seed));
  const regions = regionsOf(seed, seedElf);
  const functions = new Map<string, number>();
  for (const line of execFileSync('nm', [program], { encoding: 'utf8' }).split('\n')) {
    const m = /^([0-9a-f]+) [tT] (\w+)$/.exec(line);
    if (m) functions.set(m[2]!, parseInt(m[1]!, 16));
  }
  const probes = ['leaf_function', 'middle_function', 'lib_work', 'lib_helper', 'main'].map((n) => functions.get(n)! + 4);

  t.test('ELF headers, sections, notes and symbol tables: a result or an ElfError', async (t) => {
    readEverything(seedElf, probes);
    t.equal(readSymbols([seedElf]).lookup(probes[0]!)?.name, 'leaf_function', 'the seed reads');
    t.comment(`regions: ${regions.map((r) => r.name).join(', ')}`);
    await checkProperty(t, 'ELF (overwritten header fields, tables, symbols, notes)', 300, [edit], async (e) => {
      const bytes = applyEdit(seed, regions, e);
      const started = performance.now();
      try {
        readEverything(new ElfFile(memorySource(bytes)), probes);
      } catch (error) {
        if (!(error instanceof ElfError)) throw escaped(error);
        if (/[\u0000-\u001f]/.test(error.message) || error.message.length > 300) throw new Error(`unclear ElfError: ${JSON.stringify(error.message)}`);
      }
      const ms = performance.now() - started;
      if (ms > CASE_TIMEOUT_MS) throw new Error(`took ${ms.toFixed(0)} ms`);
    });
    await checkProperty(t, 'ELF (random bytes after a valid magic)', 300, [fc.uint8Array({ minLength: 0, maxLength: 512 })], async (tail) => {
      const bytes = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.from(tail)]);
      try {
        readEverything(new ElfFile(memorySource(bytes)), probes);
      } catch (error) {
        if (!(error instanceof ElfError)) throw escaped(error);
      }
    });
  });

  t.test('DWARF through libdw: damaged .debug_* sections never crash, hang or throw; frames fall back to symbols', async (t) => {
    const current = join(dir, `current-${process.pid}.elf`);
    const base = 0x5555_5555_4000n;
    const snapshot: ProcessSnapshot = {
      pid: 4242,
      comm: 'fuzz',
      mappings: [{ start: base, end: base + BigInt(seed.length + 0x10000), offset: 0n, perms: 'r-xp', dev: '00:00', inode: 1, path: '/fuzz/prog' }],
    };
    const raw: RawProfile = {
      samples: probes.map((p, i) => ({ pid: 4242, tid: 4242 + i, comm: 'fuzz', kernelStack: [], userStack: [base + BigInt(p)], count: 1 })),
      processes: new Map([[4242, snapshot]]),
      metadata: {},
    };
    const host: SymbolHost = {
      kallsyms: () => undefined,
      openMapped: () => openFile(current),
      openFile: () => undefined,
      download: async () => ({ ok: false, missing: true, reason: 'offline' }),
      exists: () => false,
      readFile: () => undefined,
      writeFileAtomic: () => undefined,
      packageOf: () => new Map(),
    };
    const symbolizeCurrent = async (bytes: Buffer) => {
      writeFileSync(current, bytes);
      const warnings: string[] = [];
      const started = performance.now();
      const result = await symbolizeWithReport(raw, { host, cacheDirectory: undefined, debuginfodUrls: [], debugDirectories: [], warn: (w) => warnings.push(w) });
      const ms = performance.now() - started;
      if (ms > CASE_TIMEOUT_MS) throw new Error(`took ${ms.toFixed(0)} ms`);
      for (const stack of result.profile.stacks) {
        for (const id of stack.frames) {
          const frame = result.profile.frame(id);
          if (typeof frame.name !== 'string' || frame.name.length === 0) throw new Error(`a frame without a name: ${JSON.stringify(frame)}`);
        }
      }
      return { profile: result.profile, warnings };
    };
    const good = await symbolizeCurrent(seed);
    const leaf = good.profile.stacks.find((s) => s.frames.some((id) => good.profile.frame(id).name === 'leaf_function'));
    t.ok(leaf, 'the seed is named');
    t.ok(good.profile.frames.some((f) => f.kind === 'inline' && f.file !== undefined), 'the seed has inlined frames with file:line (libdw works)');

    const dwarfRegions = regions.filter((r) => r.name.startsWith('.debug_'));
    t.ok(dwarfRegions.some((r) => r.name === '.debug_info') && dwarfRegions.some((r) => r.name === '.debug_line'), `DWARF sections: ${dwarfRegions.map((r) => r.name).join(', ')}`);
    let fellBack = 0;
    const fdsBefore = readdirSync('/proc/self/fd').length;
    await checkProperty(t, 'DWARF via libdw (overwritten .debug_* bytes)', 150, [edit], async (e) => {
      const { profile } = await symbolizeCurrent(applyEdit(seed, dwarfRegions, { ...e, truncate: null }));
      // The symbol table is intact: the outermost frame of each address keeps its function's name.
      const outer = profile.stacks.map((s) => profile.frame(s.frames[0]!).name);
      if (!outer.includes('leaf_function') || !outer.includes('lib_helper')) throw new Error(`lost a symbol-table name: ${outer.join(', ')}`);
      if (!profile.frames.some((f) => f.file !== undefined)) fellBack++;
    });
    t.comment(`DWARF cases that lost every file:line and fell back to symbol names: ${fellBack}`);
    // Each run once kept its binary's descriptor open: EMFILE after 20,000 runs of `npm run fuzz`.
    const fdsAfter = readdirSync('/proc/self/fd').length;
    t.ok(fdsAfter - fdsBefore < 8, `no descriptor left open per symbolizer run (${fdsBefore} before, ${fdsAfter} after)`);

    // Whole sections destroyed: the symbolizer still names every function from the symbol table.
    for (const name of ['.debug_info', '.debug_line', '.debug_abbrev']) {
      const region = dwarfRegions.find((r) => r.name === name);
      if (!region) continue;
      for (const fill of [0x00, 0xff]) {
        const bytes = Buffer.from(seed);
        bytes.fill(fill, region.start, region.end);
        const { profile, warnings } = await symbolizeCurrent(bytes);
        const outer = profile.stacks.map((s) => profile.frame(s.frames[0]!).name);
        t.ok(outer.includes('leaf_function') && outer.includes('main'), `${name} filled with 0x${fill.toString(16)}: functions still named (${outer.join(', ')})${warnings.length ? `; warned: ${warnings[0]}` : ''}`);
      }
    }
  });

  t.test('ELF fields overwritten through the whole symbolizer: a profile, never an exception', async (t) => {
    const current = join(dir, `current-${process.pid}.elf`);
    const base = 0x5555_5555_4000n;
    const snapshot: ProcessSnapshot = { pid: 7, comm: 'fuzz', mappings: [{ start: base, end: base + 0x100000n, offset: 0n, perms: 'r-xp', dev: '00:00', inode: 1, path: '/fuzz/prog' }] };
    const raw: RawProfile = {
      samples: probes.map((p, i) => ({ pid: 7, tid: 7 + i, comm: 'fuzz', kernelStack: [], userStack: [base + BigInt(p), base + BigInt(p) + 1n], count: 1 })),
      processes: new Map([[7, snapshot]]),
      metadata: {},
    };
    const host: SymbolHost = {
      kallsyms: () => undefined,
      openMapped: () => openFile(current),
      openFile: () => undefined,
      download: async () => ({ ok: false, missing: true, reason: 'offline' }),
      exists: () => false,
      readFile: () => undefined,
      writeFileAtomic: () => undefined,
      packageOf: () => new Map(),
    };
    const structural = regions.filter((r) => !r.name.startsWith('.debug_'));
    let warned = 0;
    const examples = new Set<string>();
    await checkProperty(t, 'ELF via the symbolizer (overwritten headers, tables, symbols)', 150, [edit], async (e) => {
      writeFileSync(current, applyEdit(seed, structural, e));
      const warnings: string[] = [];
      const started = performance.now();
      const { profile } = await symbolizeWithReport(raw, { host, cacheDirectory: undefined, debuginfodUrls: [], debugDirectories: [], warn: (w) => warnings.push(w) });
      if (performance.now() - started > CASE_TIMEOUT_MS) throw new Error('too slow');
      if (profile.totalWeight !== raw.samples.length) throw new Error(`lost samples: ${profile.totalWeight} of ${raw.samples.length}`);
      for (const f of profile.frames) if (!f.name) throw new Error('a frame without a name');
      if (warnings.some((w) => w.includes('\n') || w.length > 500)) throw new Error(`unclear warning: ${JSON.stringify(warnings)}`);
      if (warnings.length > 0) warned++;
      if (warnings.length > 0 && examples.size < 6) examples.add(warnings[0]!.replace(/^\S+: /, ''));
    });
    t.comment(`cases with a warning: ${warned}; e.g. ${[...examples].join(' | ')}`);
  });
}

if (requiresTools(t, 'gcc', 'nm')) run();
