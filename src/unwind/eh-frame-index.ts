/**
 * Function starts through `.eh_frame_hdr`: its table of FDE start addresses, sorted, with where
 * each FDE lies. Naming the function of an address then costs a binary search and the decoding of
 * one FDE's address range, where the compiled unwind table (compile.ts) interprets every FDE of
 * the binary first (node: ~0.5 s).
 *
 * Answers as the compiled table does: the FDE with the highest start at or below the address (of
 * several at one start, the first in the section), provided the address lies within its range.
 *
 * Reference: https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/ehframechpt.html
 */
import type { ElfFile } from '../symbolize/elf/file.js';
import { CfiReader, type PointerBases } from './reader.js';

const DW_EH_PE_udata4 = 0x03;
const DW_EH_PE_datarel_sdata4 = 0x3b;
const SHT_NOBITS = 8;
const U32_LIMIT = 2 ** 32;

export class EhFrameIndex {
  /** FDE start addresses, ascending, and the section offset of each FDE. */
  private constructor(
    private readonly starts: Float64Array,
    private readonly fdeOffsets: Float64Array,
    private readonly frame: CfiReader,
    private readonly bases: PointerBases,
  ) {}

  /** The FDE pointer encoding of each CIE read, by section offset. */
  private readonly encodings = new Map<number, number | null>();

  /**
   * The index of a binary, or undefined when it has no `.eh_frame_hdr` with a binary search table
   * in the usual encoding (then only the compiled table answers).
   */
  static of(elf: ElfFile): EhFrameIndex | undefined {
    const header = elf.section('.eh_frame_hdr');
    const frame = elf.section('.eh_frame');
    if (!header || !frame || header.type === SHT_NOBITS || frame.type === SHT_NOBITS || header.size < 12) return undefined;
    const bytes = elf.sectionData(header);
    if (bytes.length < 12 || bytes[0] !== 1 || bytes[2] !== DW_EH_PE_udata4 || bytes[3] !== DW_EH_PE_datarel_sdata4) return undefined;
    // The eh_frame pointer's size follows from its encoding; only the 4-byte forms are met in practice.
    if ((bytes[1]! & 0x0f) !== 0x03 && (bytes[1]! & 0x0f) !== 0x0b) return undefined;
    const count = bytes.readUInt32LE(8);
    if (count === 0 || 12 + count * 8 > bytes.length) return undefined;
    const starts = new Float64Array(count);
    const fdeOffsets = new Float64Array(count);
    const base = header.addr;
    // The table as 32-bit words (the section is 4-byte aligned in the file; copied when the Buffer is not).
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : Buffer.from(bytes);
    const words = new Int32Array(aligned.buffer, aligned.byteOffset + 12, count * 2);
    const frameBase = base - frame.addr;
    for (let i = 0; i < count; i++) {
      starts[i] = base + words[2 * i]!;
      fdeOffsets[i] = frameBase + words[2 * i + 1]!;
    }
    for (let i = 1; i < count; i++) if (starts[i]! < starts[i - 1]!) return undefined;
    const data = elf.sectionData(frame);
    const bases: PointerBases = { section: frame.addr, text: elf.section('.text')?.addr, data: elf.section('.got')?.addr };
    return new EhFrameIndex(starts, fdeOffsets, new CfiReader(data), bases);
  }

  /** The start of the FDE that holds `vaddr`; undefined outside every FDE or when it cannot be read. */
  functionStart(vaddr: number): number | undefined {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= vaddr) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return undefined;
    let k = lo - 1;
    const start = starts[k]!;
    // Of several FDEs at one start, the first in the section describes it.
    for (let j = k - 1; j >= 0 && starts[j] === start; j--) if (this.fdeOffsets[j]! < this.fdeOffsets[k]!) k = j;
    const end = this.fdeEnd(this.fdeOffsets[k]!);
    if (end === undefined || !(start > 0 && end > start && end <= U32_LIMIT)) return undefined;
    return vaddr < end ? start : undefined;
  }

  /** pc_begin + pc_range of the FDE at `offset`. */
  private fdeEnd(offset: number): number | undefined {
    const r = this.frame;
    const size = r.bytes.length;
    if (!(offset >= 0 && offset + 8 <= size)) return undefined;
    try {
      r.pos = offset;
      r.limit = size;
      const length = r.u32();
      if (length === 0 || length === 0xffffffff || length > size - r.pos) return undefined;
      r.limit = r.pos + length;
      const idAt = r.pos;
      const id = r.u32();
      if (id === 0) return undefined;
      const encoding = this.encodingOf(idAt - id);
      if (encoding === null) return undefined;
      r.pos = idAt + 4;
      r.limit = offset + 4 + length;
      const begin = r.pointer(encoding, this.bases);
      const range = r.pointer(encoding, this.bases, false);
      return range > 0 ? begin + range : undefined;
    } catch {
      return undefined;
    }
  }

  /** The FDE pointer encoding a CIE gives, or null when it cannot be read. */
  private encodingOf(offset: number): number | null {
    let encoding = this.encodings.get(offset);
    if (encoding === undefined) {
      try {
        encoding = this.readCie(offset);
      } catch {
        encoding = null;
      }
      this.encodings.set(offset, encoding);
    }
    return encoding;
  }

  private readCie(offset: number): number | null {
    const r = this.frame;
    const size = r.bytes.length;
    if (!(offset >= 0 && offset + 8 <= size)) return null;
    r.pos = offset;
    r.limit = size;
    const length = r.u32();
    if (length === 0 || length === 0xffffffff || length > size - r.pos) return null;
    r.limit = r.pos + length;
    if (r.u32() !== 0) return null;
    const version = r.u8();
    if (version !== 1 && version !== 3) return null;
    const augmentation = r.cstring();
    if (augmentation.startsWith('eh')) r.skip(8);
    r.uleb(); // code alignment
    r.sleb(); // data alignment
    if (version === 1) r.u8();
    else r.uleb(); // return address column
    let encoding = 0; // absptr
    if (!augmentation.startsWith('z')) return /^(eh)?S*$/.test(augmentation) ? encoding : null;
    const dataLength = r.uleb();
    const dataEnd = r.pos + dataLength;
    for (let i = 1; i < augmentation.length; i++) {
      const letter = augmentation[i];
      if (letter === 'R') encoding = r.u8();
      else if (letter === 'L') r.u8();
      else if (letter === 'P') r.skipPointer(r.u8(), this.bases);
      else if (letter !== 'S') return null;
    }
    return r.pos <= dataEnd ? encoding : null;
  }
}
