/**
 * Function symbols of an ELF file (`.symtab` and `.dynsym`) as sorted arrays, looked up by binary
 * search. Arrays rather than objects: libc has ~3k functions, a big binary 100k+, and the arrays
 * are also what the on-disk cache stores.
 */
import { ElfError, type ElfFile, type Section, SHT_DYNSYM, SHT_NOBITS, SHT_SYMTAB } from './file.js';

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const STB_LOCAL = 0;
const STB_WEAK = 2;

/** Names decoded on first look-up: a big binary has 100k+ symbols and a profile needs a few hundred. */
export interface NameSource {
  name(index: number): string;
}

class ArrayNames implements NameSource {
  constructor(private readonly names: readonly string[]) {}
  name(index: number): string {
    return this.names[index]!;
  }
}

/** Where one string table lies in its file. */
export interface StringTableFile {
  readonly elf: ElfFile;
  readonly offset: number;
  readonly size: number;
}

/** Names read one by one before a table's string sections are read whole (~1.5 µs a read). */
const READS_BEFORE_WHOLE = 2048;

/**
 * Names read from the string tables in their files as they are asked for: node's `.strtab` and
 * `.dynstr` are 12 MB, and a profile names a few hundred of its functions. A run that asks for
 * many reads the tables whole.
 */
export class StringTableNames implements NameSource {
  private readonly decoded: (string | undefined)[] = [];
  private whole: (Buffer | undefined)[] | undefined;
  private reads = 0;
  constructor(
    readonly files: readonly StringTableFile[],
    /** Per symbol: its string table, and its name's offset there. */
    readonly table: Uint8Array,
    readonly offsets: Uint32Array,
  ) {}
  name(index: number): string {
    let name = this.decoded[index];
    if (name === undefined) {
      const file = this.files[this.table[index]!]!;
      const start = this.offsets[index]!;
      if (!this.whole && ++this.reads > READS_BEFORE_WHOLE) this.whole = this.files.map((f) => f.elf.source.read(f.offset, f.size));
      const strings = this.whole?.[this.table[index]!];
      if (strings) {
        const end = strings.indexOf(0, start);
        name = strings.toString('utf8', start, end < 0 ? strings.length : end);
      } else name = readString(file, start);
      this.decoded[index] = name;
    }
    return name;
  }
}

/** The NUL-terminated string at `start` of a string table, read from its file. */
function readString(file: StringTableFile, start: number): string {
  for (let length = 256; ; length *= 8) {
    const bytes = file.elf.source.read(file.offset + start, Math.min(length, file.size - start));
    const end = bytes.indexOf(0);
    if (end >= 0) return bytes.toString('utf8', 0, end);
    if (start + length >= file.size) return bytes.toString('utf8');
  }
}

export class SymbolTable {
  constructor(
    /** Start addresses (ELF virtual addresses), ascending. */
    readonly addresses: Float64Array,
    /** Sizes; 0 when the symbol did not say. */
    readonly sizes: Float64Array,
    readonly names: NameSource,
  ) {}

  get length(): number {
    return this.addresses.length;
  }

  static readonly EMPTY = new SymbolTable(new Float64Array(0), new Float64Array(0), new ArrayNames([]));

  static fromArrays(addresses: Float64Array, sizes: Float64Array, names: readonly string[]): SymbolTable {
    return new SymbolTable(addresses, sizes, new ArrayNames(names));
  }

  /** The function containing `vaddr`: nearest start at or below it, within its size when known. */
  lookup(vaddr: number): { readonly name: string; readonly start: number } | undefined {
    const a = this.addresses;
    let lo = 0;
    let hi = a.length - 1;
    if (hi < 0 || vaddr < a[0]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (a[mid]! <= vaddr) lo = mid;
      else hi = mid - 1;
    }
    const size = this.sizes[lo]!;
    // Past a sized symbol's end lies code no symbol covers (padding, a stripped local function):
    // naming it after its neighbour would be a wrong name.
    if (size > 0 && vaddr >= a[lo]! + size) return undefined;
    return { name: this.names.name(lo), start: a[lo]! };
  }

  /** Every name, decoded (for the on-disk cache). */
  allNames(): string[] {
    const names: string[] = [];
    for (let i = 0; i < this.length; i++) names.push(this.names.name(i));
    return names;
  }
}

/** A symbol table of one of the files, the string table of its names, and its rank at equal addresses. */
export interface SymbolSection {
  readonly fileIndex: number;
  readonly elf: ElfFile;
  readonly symtab: Section;
  readonly strtab: Section;
  readonly rank: number;
}

/** The symbol tables `readSymbols` reads, in its order; throws ElfError on entries of another size. */
export function symbolSections(files: readonly ElfFile[]): SymbolSection[] {
  const found: SymbolSection[] = [];
  files.forEach((elf, fileIndex) => {
    for (const symtab of elf.sections) {
      if ((symtab.type !== SHT_SYMTAB && symtab.type !== SHT_DYNSYM) || symtab.size === 0) continue;
      if (symtab.entsize !== 24) throw new ElfError(`symbol table ${symtab.name} has entries of ${symtab.entsize} bytes, not 24`);
      const strtab = elf.sections[symtab.link];
      if (!strtab || strtab.type === SHT_NOBITS) continue;
      found.push({ fileIndex, elf, symtab, strtab, rank: fileIndex * 8 + (symtab.type === SHT_SYMTAB ? 0 : 4) });
    }
  });
  return found;
}

/**
 * Function symbols of `.symtab` and `.dynsym` of each file, earlier files first at equal
 * addresses (a debug file's .symtab before the binary's .dynsym). Throws ElfError on a table
 * outside its file.
 */
export function readSymbols(files: readonly ElfFile[]): SymbolTable {
  const strings: StringTableFile[] = [];
  const tables: { table: Buffer; names: Buffer; rank: number; index: number }[] = [];
  for (const { elf, symtab, strtab, rank } of symbolSections(files)) {
    const table = elf.sectionData(symtab);
    const names = elf.sectionData(strtab);
    tables.push({ table, names, rank, index: strings.length });
    strings.push({ elf, offset: strtab.offset, size: names.length });
  }
  let capacity = 0;
  for (const t of tables) capacity += Math.floor(t.table.length / 24);
  const scan: Scan = {
    addresses: new Float64Array(capacity),
    sizes: new Float64Array(capacity),
    ranks: new Uint8Array(capacity),
    tableOf: new Uint8Array(capacity),
    offsets: new Uint32Array(capacity),
  };
  let n = 0;
  for (const { table, names, rank, index } of tables) n = scanTable(scan, n, table, names, rank, index);
  const order = sortedOrder(scan.addresses.subarray(0, n), scan.ranks);
  return firstPerAddress(scan, order, strings);
}

/** What the symbol tables hold, one entry per function symbol, in file order. */
interface Scan {
  readonly addresses: Float64Array;
  readonly sizes: Float64Array;
  readonly ranks: Uint8Array;
  readonly tableOf: Uint8Array;
  readonly offsets: Uint32Array;
}

/**
 * Appends the function symbols of one table from entry `n` on; returns the new count. The loops
 * are small functions of their own: the optimizing compiler compiles each hot loop with its
 * whole function, and one large function cost ~0.15 s of compilation on node's table.
 */
function scanTable(scan: Scan, n: number, table: Buffer, names: Buffer, rank: number, index: number): number {
  const { addresses, sizes, ranks, tableOf, offsets } = scan;
  // 32-bit words instead of DataView calls: node's 185k symbols in ~20 ms instead of ~100 ms.
  const aligned = table.byteOffset % 4 === 0 ? table : Buffer.from(table);
  const words = new Uint32Array(aligned.buffer, aligned.byteOffset, Math.floor(aligned.length / 4));
  const bytes = new Uint8Array(aligned.buffer, aligned.byteOffset, aligned.length);
  const namesLength = names.length;
  for (let at = 0, w = 0; at + 24 <= bytes.length; at += 24, w += 6) {
    const info = bytes[at + 4]!;
    const kind = info & 0xf;
    if (kind !== STT_FUNC && kind !== STT_GNU_IFUNC) continue;
    if (bytes[at + 6] === 0 && bytes[at + 7] === 0) continue; // undefined here: lives in another file
    const address = words[w + 2]! + words[w + 3]! * 0x1_0000_0000;
    if (address === 0 || address > Number.MAX_SAFE_INTEGER) continue;
    const nameOffset = words[w]!;
    if (nameOffset >= namesLength || names[nameOffset] === 0) continue;
    const bind = info >> 4;
    // At one address: globals before weak before locals — the name the code was written
    // under rather than an alias.
    ranks[n] = rank + (bind === STB_LOCAL ? 2 : bind === STB_WEAK ? 1 : 0);
    addresses[n] = address;
    sizes[n] = words[w + 4]! + words[w + 5]! * 0x1_0000_0000;
    tableOf[n] = index;
    offsets[n] = nameOffset;
    n++;
  }
  return n;
}

/** One symbol per address, the first in `order`; a size from a later one when the first has none. */
function firstPerAddress(scan: Scan, order: Uint32Array, strings: readonly StringTableFile[]): SymbolTable {
  const { addresses, sizes, tableOf, offsets } = scan;
  const n = order.length;
  const outAddresses = new Float64Array(n);
  const outSizes = new Float64Array(n);
  const outTables = new Uint8Array(n);
  const outOffsets = new Uint32Array(n);
  let m = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    if (m > 0 && outAddresses[m - 1] === addresses[i]) {
      if (outSizes[m - 1] === 0) outSizes[m - 1] = sizes[i]!;
      continue;
    }
    outAddresses[m] = addresses[i]!;
    outSizes[m] = sizes[i]!;
    outTables[m] = tableOf[i]!;
    outOffsets[m] = offsets[i]!;
    m++;
  }
  return new SymbolTable(outAddresses.slice(0, m), outSizes.slice(0, m), new StringTableNames(strings, outTables.slice(0, m), outOffsets.slice(0, m)));
}

/**
 * Indices sorted by (address, rank). Packing both and the index into one double lets the typed
 * array sort natively (node's 185k symbols: ~15 ms instead of ~300 ms with a comparator); the
 * comparator is the fallback for addresses too large to pack.
 */
function sortedOrder(addresses: Float64Array, ranks: Uint8Array): Uint32Array {
  const n = addresses.length;
  const indexBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  let max = 0;
  for (const a of addresses) if (a > max) max = a;
  if (max * 2 ** (indexBits + 5) < Number.MAX_SAFE_INTEGER) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = (addresses[i]! * 32 + ranks[i]!) * 2 ** indexBits + i;
    keys.sort();
    const order = new Uint32Array(n);
    const mask = 2 ** indexBits;
    for (let i = 0; i < n; i++) order[i] = keys[i]! % mask;
    return order;
  }
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => addresses[a]! - addresses[b]! || ranks[a]! - ranks[b]!);
  return order;
}
