/**
 * A binary's sorted function symbols kept on disk by build-id (`symbols-<build-id>.bin` beside
 * the frame tables): scanning and sorting node's symbol tables is ~0.2 s of a recording's end,
 * reading the sorted arrays back a few milliseconds. The names stay in the ELF files' string
 * tables, read as they are asked for. The file says where each symbol and string table lay; it is
 * used only when the files at hand have theirs at the same places (a debug file installed since,
 * or another one of the same build-id, has not), and everything is checked before use, so a
 * damaged file costs the sort, never a wrong name.
 *
 * Layout (little-endian): magic, version, symbol count, table count (4 × u32); per table its
 * file's index, the symbol table's offset and size, the string table's offset and size (5 ×
 * f64); then Float64 addresses (strictly ascending), Float64 sizes, Uint32 name offsets and
 * Uint8 table numbers.
 */
import { StringTableNames, SymbolTable, symbolSections, type SymbolSection } from './symbols.js';
import type { ElfFile } from './file.js';

const MAGIC = 0x5459_5350; // "PSYT"
const VERSION = 1;
const HEADER = 16;
const TABLE = 40;

/** The sorted symbols in the file format; undefined for a table whose names are not in string tables. */
export function serializeSymbols(symbols: SymbolTable, files: readonly ElfFile[]): Buffer | undefined {
  const names = symbols.names;
  if (!(names instanceof StringTableNames)) return undefined;
  const sections = symbolSections(files);
  const n = symbols.length;
  const out = Buffer.alloc(HEADER + sections.length * TABLE + n * 21);
  [MAGIC, VERSION, n, sections.length].forEach((v, i) => out.writeUInt32LE(v, i * 4));
  sections.forEach((s, i) => describe(s).forEach((v, k) => out.writeDoubleLE(v, HEADER + i * TABLE + k * 8)));
  let at = HEADER + sections.length * TABLE;
  for (const array of [symbols.addresses, symbols.sizes, names.offsets, names.table]) {
    out.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), at);
    at += array.byteLength;
  }
  return out;
}

/** The symbols of `files` from a file `serializeSymbols` wrote for them; undefined when it is not one. */
export function loadSymbols(bytes: Buffer, files: readonly ElfFile[]): SymbolTable | undefined {
  if (bytes.length < HEADER || bytes.readUInt32LE(0) !== MAGIC || bytes.readUInt32LE(4) !== VERSION) return undefined;
  const [n, tables] = [bytes.readUInt32LE(8), bytes.readUInt32LE(12)];
  const sections = symbolSections(files);
  if (tables !== sections.length || bytes.length !== HEADER + tables * TABLE + n * 21) return undefined;
  for (let i = 0; i < tables; i++) {
    const expected = describe(sections[i]!);
    for (let k = 0; k < expected.length; k++) if (bytes.readDoubleLE(HEADER + i * TABLE + k * 8) !== expected[k]) return undefined;
  }
  // A copy: typed arrays need aligned offsets, and a pooled Buffer's may not be.
  const body = new Uint8Array(bytes.subarray(HEADER + tables * TABLE));
  const addresses = new Float64Array(body.buffer, 0, n);
  const sizes = new Float64Array(body.buffer, n * 8, n);
  const offsets = new Uint32Array(body.buffer, n * 16, n);
  const tableOf = new Uint8Array(body.buffer, n * 20, n);
  for (let i = 0; i < n; i++) {
    const table = tableOf[i]!;
    if (table >= tables || offsets[i]! >= sections[table]!.strtab.size || !(sizes[i]! >= 0)) return undefined;
    if (i > 0 ? !(addresses[i]! > addresses[i - 1]!) : !Number.isFinite(addresses[0])) return undefined;
  }
  const strings = sections.map((s) => ({ elf: s.elf, offset: s.strtab.offset, size: s.strtab.size }));
  return new SymbolTable(addresses, sizes, new StringTableNames(strings, tableOf, offsets));
}

function describe(section: SymbolSection): number[] {
  return [section.fileIndex, section.symtab.offset, section.symtab.size, section.strtab.offset, section.strtab.size];
}
