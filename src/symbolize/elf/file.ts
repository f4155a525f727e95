/**
 * A minimal ELF64 little-endian reader: program headers (for the load bias), section headers,
 * the GNU build-id note, `.gnu_debuglink`, and the raw bytes of a section. Every offset and size
 * read from the file is checked against the file's size before use: a corrupt file throws an
 * `ElfError`, never reads out of bounds and never names anything.
 *
 * Reference: https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.eheader.html
 */
import type { ByteSource } from '../source.js';

export class ElfError extends Error {
  override name = 'ElfError';
}

export interface LoadSegment {
  readonly offset: number;
  readonly vaddr: number;
  readonly filesz: number;
  readonly memsz: number;
  readonly flags: number;
}

export interface Section {
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly entsize: number;
}

export const SHT_SYMTAB = 2;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_DYNSYM = 11;
const PT_LOAD = 1;
const PT_NOTE = 4;
const NT_GNU_BUILD_ID = 3;

// Offsets above 2^53 cannot be real in a file; reading them as Number keeps the code simple.
function u64(buffer: Buffer, at: number): number {
  const value = buffer.readBigUInt64LE(at);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

export class ElfFile {
  readonly type: number;
  readonly segments: readonly LoadSegment[];
  readonly sections: readonly Section[];
  private readonly notes: { offset: number; size: number }[];

  constructor(readonly source: ByteSource) {
    const header = source.read(0, 64);
    if (header.length < 64 || header.readUInt32BE(0) !== 0x7f454c46) throw new ElfError('not an ELF file');
    if (header[4] !== 2) throw new ElfError('not a 64-bit ELF file');
    if (header[5] !== 1) throw new ElfError('not a little-endian ELF file');
    this.type = header.readUInt16LE(16);
    const phoff = u64(header, 32);
    const shoff = u64(header, 40);
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const shentsize = header.readUInt16LE(58);
    const shnum = header.readUInt16LE(60);
    const shstrndx = header.readUInt16LE(62);

    const segments: LoadSegment[] = [];
    this.notes = [];
    if (phnum > 0) {
      if (phentsize < 56 || phoff + phnum * phentsize > source.size) throw new ElfError('program headers lie outside the file');
      const table = source.read(phoff, phnum * phentsize);
      for (let i = 0; i < phnum; i++) {
        const h = i * phentsize;
        const type = table.readUInt32LE(h);
        const offset = u64(table, h + 8);
        const filesz = u64(table, h + 32);
        if (type === PT_LOAD) segments.push({ flags: table.readUInt32LE(h + 4), offset, vaddr: u64(table, h + 16), filesz, memsz: u64(table, h + 40) });
        else if (type === PT_NOTE && offset + filesz <= source.size) this.notes.push({ offset, size: filesz });
      }
    }
    this.segments = segments;

    const sections: Section[] = [];
    if (shnum > 0 && shoff > 0) {
      if (shentsize < 64 || shoff + shnum * shentsize > source.size) throw new ElfError('section headers lie outside the file');
      const table = source.read(shoff, shnum * shentsize);
      const raw = [];
      for (let i = 0; i < shnum; i++) {
        const h = i * shentsize;
        raw.push({
          nameOffset: table.readUInt32LE(h),
          type: table.readUInt32LE(h + 4),
          flags: u64(table, h + 8),
          addr: u64(table, h + 16),
          offset: u64(table, h + 24),
          size: u64(table, h + 32),
          link: table.readUInt32LE(h + 40),
          entsize: u64(table, h + 56),
        });
      }
      const strtab = raw[shstrndx];
      const names = strtab && strtab.type !== SHT_NOBITS && strtab.offset + strtab.size <= source.size ? source.read(strtab.offset, Math.min(strtab.size, 1 << 20)) : Buffer.alloc(0);
      for (const s of raw) {
        const end = names.indexOf(0, s.nameOffset);
        const name = s.nameOffset < names.length && end > 0 ? names.toString('latin1', s.nameOffset, end) : '';
        sections.push({ name, type: s.type, flags: s.flags, addr: s.addr, offset: s.offset, size: s.size, link: s.link, entsize: s.entsize });
        if (s.type === SHT_NOTE && s.offset + s.size <= source.size) this.notes.push({ offset: s.offset, size: s.size });
      }
    }
    this.sections = sections;
  }

  section(name: string): Section | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The bytes of a section (empty for NOBITS); throws when the section lies outside the file. */
  sectionData(section: Section): Buffer {
    if (section.type === SHT_NOBITS) return Buffer.alloc(0);
    if (section.offset + section.size > this.source.size) throw new ElfError(`section ${section.name || section.type} lies outside the file`);
    return this.source.read(section.offset, section.size);
  }

  /** The GNU build-id as lowercase hex, or undefined. */
  buildId(): string | undefined {
    for (const note of this.notes) {
      const data = this.source.read(note.offset, Math.min(note.size, 4096));
      let at = 0;
      while (at + 12 <= data.length) {
        const namesz = data.readUInt32LE(at);
        const descsz = data.readUInt32LE(at + 4);
        const type = data.readUInt32LE(at + 8);
        const nameStart = at + 12;
        // Sizes up to 2^32 - 1: JS bit operations would turn them negative (found by fuzzing).
        const descStart = nameStart + Math.ceil(namesz / 4) * 4;
        const next = descStart + Math.ceil(descsz / 4) * 4;
        if (next > data.length || descStart > data.length) break;
        if (type === NT_GNU_BUILD_ID && namesz === 4 && data.toString('latin1', nameStart, nameStart + 3) === 'GNU' && descsz > 0 && descsz <= 64) {
          return data.toString('hex', descStart, descStart + descsz);
        }
        at = next;
      }
    }
    return undefined;
  }

  /** `.gnu_debuglink`: the debug file's name and the CRC32 of its contents. */
  debugLink(): { readonly name: string; readonly crc: number } | undefined {
    const section = this.section('.gnu_debuglink');
    if (!section || section.size < 8 || section.size > 4096) return undefined;
    const data = this.sectionData(section);
    const end = data.indexOf(0);
    if (end <= 0) return undefined;
    const crcAt = (end + 4) & ~3;
    if (crcAt + 4 > data.length) return undefined;
    const name = data.toString('utf8', 0, end);
    // A link is a file name, never a path: refuse anything that could climb out of its directory.
    if (name.includes('/') || name === '.' || name === '..') return undefined;
    return { name, crc: data.readUInt32LE(crcAt) };
  }

  /**
   * The ELF virtual address of a file offset in an executable mapping: what symbol tables and
   * DWARF use. The load bias of a PIE or shared library is whatever the kernel chose; this
   * undoes it without knowing it, from the mapping's file offset and the PT_LOAD headers.
   */
  vaddrOfOffset(fileOffset: number): number | undefined {
    for (const s of this.segments) {
      if (fileOffset >= s.offset && fileOffset < s.offset + Math.max(s.filesz, 1)) return fileOffset - s.offset + s.vaddr;
    }
    return undefined;
  }
}
