/**
 * Function symbols of an ELF file (`.symtab` and `.dynsym`) as sorted arrays, looked up by binary
 * search. Arrays rather than objects: libc has ~3k functions, a big binary 100k+, and the arrays
 * are also what the on-disk cache stores.
 */
import { ElfError, type ElfFile, SHT_DYNSYM, SHT_NOBITS, SHT_SYMTAB } from './file.js';

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const STB_LOCAL = 0;
const STB_WEAK = 2;

interface Entry {
  address: number;
  size: number;
  name: string;
  rank: number;
}

export class SymbolTable {
  constructor(
    /** Start addresses (ELF virtual addresses), ascending. */
    readonly addresses: Float64Array,
    /** Sizes; 0 when the symbol did not say. */
    readonly sizes: Float64Array,
    readonly names: readonly string[],
  ) {}

  get length(): number {
    return this.addresses.length;
  }

  static readonly EMPTY = new SymbolTable(new Float64Array(0), new Float64Array(0), []);

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
    return { name: this.names[lo]!, start: a[lo]! };
  }

  /** Merges tables; at equal addresses the earlier table's name wins. */
  static merge(tables: readonly SymbolTable[]): SymbolTable {
    const nonEmpty = tables.filter((t) => t.length > 0);
    if (nonEmpty.length <= 1) return nonEmpty[0] ?? SymbolTable.EMPTY;
    const entries: Entry[] = [];
    nonEmpty.forEach((t, rank) => {
      for (let i = 0; i < t.length; i++) entries.push({ address: t.addresses[i]!, size: t.sizes[i]!, name: t.names[i]!, rank });
    });
    return fromEntries(entries);
  }
}

function fromEntries(entries: Entry[]): SymbolTable {
  entries.sort((a, b) => a.address - b.address || a.rank - b.rank);
  const addresses: number[] = [];
  const sizes: number[] = [];
  const names: string[] = [];
  for (const e of entries) {
    const last = addresses.length - 1;
    if (last >= 0 && addresses[last] === e.address) {
      if (sizes[last] === 0) sizes[last] = e.size;
      continue;
    }
    addresses.push(e.address);
    sizes.push(e.size);
    names.push(e.name);
  }
  return new SymbolTable(Float64Array.from(addresses), Float64Array.from(sizes), names);
}

/** Function symbols of `.symtab` and `.dynsym`; throws ElfError on a table outside the file. */
export function readSymbols(elf: ElfFile): SymbolTable {
  const entries: Entry[] = [];
  for (const section of elf.sections) {
    if ((section.type !== SHT_SYMTAB && section.type !== SHT_DYNSYM) || section.size === 0) continue;
    if (section.entsize !== 24) throw new ElfError(`symbol table ${section.name} has entries of ${section.entsize} bytes, not 24`);
    const strtabSection = elf.sections[section.link];
    if (!strtabSection || strtabSection.type === SHT_NOBITS) continue;
    const table = elf.sectionData(section);
    const strings = elf.sectionData(strtabSection);
    for (let at = 0; at + 24 <= table.length; at += 24) {
      const info = table[at + 4]!;
      const kind = info & 0xf;
      if (kind !== STT_FUNC && kind !== STT_GNU_IFUNC) continue;
      if (table.readUInt16LE(at + 6) === 0) continue; // undefined here: lives in another file
      const address = Number(table.readBigUInt64LE(at + 8));
      if (address === 0) continue;
      const nameOffset = table.readUInt32LE(at);
      if (nameOffset >= strings.length) continue;
      const end = strings.indexOf(0, nameOffset);
      if (end <= nameOffset) continue;
      const bind = info >> 4;
      // At one address: globals before weak before locals, .symtab before .dynsym — the name the
      // code was written under rather than an alias.
      const rank = (section.type === SHT_SYMTAB ? 0 : 4) + (bind === STB_LOCAL ? 2 : bind === STB_WEAK ? 1 : 0);
      entries.push({ address, size: Number(table.readBigUInt64LE(at + 16)), name: strings.toString('utf8', nameOffset, end), rank });
    }
  }
  return fromEntries(entries);
}
