/**
 * ELF seeds for fuzzing the symbolizer: small real binaries built by gcc in the test setup (PIE
 * with .symtab and DWARF, stripped, a shared library, a non-PIE static-less executable, and a
 * split debug file with .gnu_debuglink), and structure-aware mutations that hit the bytes parsers
 * trust: the ELF header, program and section header tables, symbol tables, string tables and the
 * DWARF sections, with boundary values (0, 1, -1, huge, just past the end).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc } from './fuzz.js';

const SOURCE = `
#include <stdio.h>
#include <stdlib.h>
static int helper_static(int x) { return x * 3 + 1; }
__attribute__((noinline)) int leaf_function(int x) { return helper_static(x) ^ 0x5a; }
__attribute__((noinline)) int middle_function(int x) { return leaf_function(x) + leaf_function(x + 1); }
static inline int inlined_twice(int x) { return middle_function(x) * 2; }
int main(int argc, char **argv) { printf("%d\\n", inlined_twice(argc)); return 0; }
`;
const LIB = `
__attribute__((noinline)) int lib_leaf(int x) { return x + 42; }
int lib_entry(int x) { return lib_leaf(x) * 2; }
`;

export interface ElfSeeds {
  readonly dir: string;
  /** name → path of each built file. */
  readonly files: Readonly<Record<string, string>>;
  cleanup(): void;
}

/** Builds the seed binaries (needs gcc, objcopy, strip). */
export function buildElfSeeds(): ElfSeeds {
  const dir = mkdtempSync(join(tmpdir(), 'profile-elf-seeds-'));
  writeFileSync(join(dir, 'prog.c'), SOURCE);
  writeFileSync(join(dir, 'lib.c'), LIB);
  const gcc = (...args: string[]): void => void execFileSync('gcc', args, { cwd: dir, stdio: 'pipe' });
  gcc('-O1', '-g', '-fno-omit-frame-pointer', '-o', 'pie-debug', 'prog.c');
  gcc('-O1', '-no-pie', '-fno-pie', '-o', 'nopie', 'prog.c');
  gcc('-O2', '-g', '-shared', '-fPIC', '-o', 'libseed.so', 'lib.c');
  execFileSync('cp', ['pie-debug', 'stripped'], { cwd: dir });
  execFileSync('strip', ['stripped'], { cwd: dir });
  execFileSync('objcopy', ['--only-keep-debug', 'pie-debug', 'split.debug'], { cwd: dir });
  execFileSync('cp', ['pie-debug', 'with-debuglink'], { cwd: dir });
  execFileSync('objcopy', ['--strip-debug', '--add-gnu-debuglink=split.debug', 'with-debuglink'], { cwd: dir });
  const names = ['pie-debug', 'nopie', 'libseed.so', 'stripped', 'split.debug', 'with-debuglink'];
  return {
    dir,
    files: Object.fromEntries(names.map((n) => [n, join(dir, n)])),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Byte ranges of an ELF64 little-endian file that parsers read structure from. */
export function elfRegions(bytes: Uint8Array): [number, number][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const regions: [number, number][] = [[0, Math.min(64, bytes.length)]];
  if (bytes.length < 64) return regions;
  const phoff = Number(view.getBigUint64(32, true));
  const shoff = Number(view.getBigUint64(40, true));
  const phnum = view.getUint16(56, true);
  const shnum = view.getUint16(60, true);
  const shstrndx = view.getUint16(62, true);
  if (phoff + phnum * 56 <= bytes.length) regions.push([phoff, phoff + phnum * 56]);
  if (shoff + shnum * 64 > bytes.length) return regions;
  regions.push([shoff, shoff + shnum * 64]);
  const interesting = new Set([2, 3, 11, 7]); // SHT_SYMTAB, SHT_STRTAB, SHT_DYNSYM, SHT_NOTE
  const strtab = shstrndx < shnum ? Number(view.getBigUint64(shoff + shstrndx * 64 + 24, true)) : 0;
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * 64;
    const type = view.getUint32(h + 4, true);
    const offset = Number(view.getBigUint64(h + 24, true));
    const size = Number(view.getBigUint64(h + 32, true));
    let name = '';
    for (let p = strtab + view.getUint32(h, true); p < bytes.length && bytes[p] !== 0 && name.length < 40; p++) name += String.fromCharCode(bytes[p]!);
    if ((interesting.has(type) || name.startsWith('.debug_') || name === '.gnu_debuglink') && type !== 8 && offset + size <= bytes.length && size > 0) {
      regions.push([offset, offset + Math.min(size, 1 << 16)]);
    }
  }
  return regions;
}

const BOUNDARY_U64 = [0n, 1n, 0x7fn, 0xffn, 0x7fffn, 0xffffn, 0x7fffffffn, 0xffffffffn, 0x8000000000000000n, 0xffffffffffffffffn];

type ElfMutation =
  | { readonly kind: 'flip'; readonly region: number; readonly at: number; readonly bit: number }
  | { readonly kind: 'word'; readonly region: number; readonly at: number; readonly width: 1 | 2 | 4 | 8; readonly value: bigint; readonly relativeToSize: boolean }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'zero-range'; readonly region: number; readonly at: number; readonly length: number };

const pos = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const elfMutation: fc.Arbitrary<ElfMutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('flip' as const), region: fc.nat(), at: pos, bit: fc.integer({ min: 0, max: 7 }) }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('word' as const),
      region: fc.nat(),
      at: pos,
      width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
      value: fc.oneof(fc.constantFrom(...BOUNDARY_U64), fc.bigInt({ min: 0n, max: 0xffffffffffffffffn })),
      relativeToSize: fc.boolean(),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: pos }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('zero-range' as const), region: fc.nat(), at: pos, length: fc.integer({ min: 1, max: 256 }) }), weight: 1 },
);

function applyElfMutation(bytes: Uint8Array, regions: [number, number][], m: ElfMutation): Uint8Array {
  if (bytes.length === 0) return bytes;
  if (m.kind === 'truncate') return bytes.slice(0, Math.floor(m.at * bytes.length));
  const [start, end] = regions[m.region % regions.length]!;
  const span = Math.max(1, Math.min(end, bytes.length) - start);
  const at = Math.min(bytes.length - 1, start + Math.floor(m.at * span));
  const copy = bytes.slice();
  if (m.kind === 'flip') copy[at] = copy[at]! ^ (1 << m.bit);
  else if (m.kind === 'zero-range') copy.fill(0, at, Math.min(bytes.length, at + m.length));
  else {
    // Values near the file size make offsets point just past the end, the classic off-by-one.
    let value = m.relativeToSize ? BigInt(bytes.length) + (m.value % 17n) - 8n : m.value;
    value = BigInt.asUintN(m.width * 8, value);
    for (let i = 0; i < m.width && at + i < copy.length; i++) copy[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
  }
  return copy;
}

/** A seed ELF with 1–6 structure-aware mutations (regions computed once per seed). */
export function mutatedElf(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const regions = seeds.map(elfRegions);
  return fc
    .tuple(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(elfMutation, { minLength: 1, maxLength: 6 }))
    .map(([i, ms]) => ms.reduce((bytes, m) => applyElfMutation(bytes, regions[i]!, m), seeds[i]!));
}

export function readSeeds(seeds: ElfSeeds, names: readonly string[]): Uint8Array[] {
  return names.map((n) => new Uint8Array(readFileSync(seeds.files[n]!)));
}
