/**
 * `.debug_aranges` read in JS: address → compilation unit without a native call per address.
 * libdw's `dwarf_addrdie` costs ~2 µs a call, and a profile asks it for every address, including
 * the many that no CU covers (node: 50k addresses, nearly all outside its few CUs).
 *
 * The look-up is the one libdw does (`dwarf_getarange_addr`): a binary search over the ranges
 * sorted by start, so both answer the same for the same table.
 *
 * Reference: DWARF 5 §6.1.2 (https://dwarfstd.org/doc/DWARF5.pdf); compressed sections: gABI
 * SHF_COMPRESSED (Elf64_Chdr).
 */
import { inflateSync } from 'node:zlib';
import type { ElfFile, Section } from '../elf/file.js';

const SHF_COMPRESSED = 0x800;
const ELFCOMPRESS_ZLIB = 1;

/** Ranges sorted by start; `units` holds the CU header offset (in .debug_info) of each. */
export interface AddressRanges {
  readonly starts: Float64Array;
  readonly lengths: Float64Array;
  readonly units: Float64Array;
}

/** A section's bytes, inflated when SHF_COMPRESSED; undefined when they cannot be had. */
export function sectionBytes(elf: ElfFile, section: Section): Buffer | undefined {
  const data = elf.sectionData(section);
  if ((section.flags & SHF_COMPRESSED) === 0) return data;
  if (data.length < 24 || data.readUInt32LE(0) !== ELFCOMPRESS_ZLIB) return undefined;
  const size = Number(data.readBigUInt64LE(8));
  const inflated = inflateSync(data.subarray(24), { maxOutputLength: Math.max(size, 1) });
  return inflated.length === size ? inflated : undefined;
}

/**
 * Parses `.debug_aranges`; undefined when the file has none or it is malformed (the caller then
 * asks libdw, which knows the rarer forms such as `.zdebug_aranges`).
 */
export function readAranges(elf: ElfFile): AddressRanges | undefined {
  const section = elf.section('.debug_aranges');
  if (!section || section.size === 0 || section.type === 8) return undefined;
  let data: Buffer | undefined;
  try {
    data = sectionBytes(elf, section);
  } catch {
    return undefined;
  }
  if (!data) return undefined;
  const starts: number[] = [];
  const lengths: number[] = [];
  const units: number[] = [];
  let at = 0;
  while (at + 4 <= data.length) {
    const setStart = at;
    let length = data.readUInt32LE(at);
    at += 4;
    let offsetSize = 4;
    if (length === 0xffffffff) {
      if (at + 8 > data.length) return undefined;
      length = Number(data.readBigUInt64LE(at));
      at += 8;
      offsetSize = 8;
    } else if (length >= 0xfffffff0) return undefined;
    const end = at + length;
    if (end > data.length || length < 2 + offsetSize + 2) return undefined;
    const version = data.readUInt16LE(at);
    if (version !== 2) return undefined;
    const unit = offsetSize === 4 ? data.readUInt32LE(at + 2) : Number(data.readBigUInt64LE(at + 2));
    const addressSize = data[at + 2 + offsetSize]!;
    const segmentSize = data[at + 3 + offsetSize]!;
    if (addressSize !== 8 || segmentSize !== 0) return undefined;
    // Tuples start at a multiple of twice the address size from the set's start.
    const header = at + 4 + offsetSize - setStart;
    at = setStart + Math.ceil(header / 16) * 16;
    for (; at + 16 <= end; at += 16) {
      const start = data.readUInt32LE(at) + data.readUInt32LE(at + 4) * 0x1_0000_0000;
      const size = data.readUInt32LE(at + 8) + data.readUInt32LE(at + 12) * 0x1_0000_0000;
      // Zero pairs end a set; some producers leave them in the middle too (libdw reads on).
      if (start === 0 && size === 0) continue;
      starts.push(start);
      lengths.push(size);
      units.push(unit);
    }
    at = end;
  }
  const order = Array.from(starts.keys()).sort((a, b) => starts[a]! - starts[b]! || a - b);
  return {
    starts: Float64Array.from(order, (i) => starts[i]!),
    lengths: Float64Array.from(order, (i) => lengths[i]!),
    units: Float64Array.from(order, (i) => units[i]!),
  };
}

/** The CU header offset for `address`, or −1; the same search as libdw's `dwarf_getarange_addr`. */
export function unitOf(ranges: AddressRanges, address: number): number {
  const { starts, lengths } = ranges;
  let l = 0;
  let u = starts.length;
  while (l < u) {
    const idx = (l + u) >>> 1;
    const start = starts[idx]!;
    if (address < start) u = idx;
    else if (address > start && address - start >= lengths[idx]!) l = idx + 1;
    else return ranges.units[idx]!;
  }
  return -1;
}
