/**
 * Bounds-checked reading of call frame information: fixed-size integers, LEB128 and the
 * `DW_EH_PE_*` pointer encodings of `.eh_frame`. Every read checks the current limit (the end of
 * the entry being read), so corrupt lengths end in a `CfiError` carrying the section offset, never
 * in a read past the section or an endless loop.
 *
 * Values are JS numbers: addresses above 2^53 lose precision, which is harmless because the
 * compiled table keeps only addresses below 2^32 and drops the rest.
 *
 * Reference: https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/dwarfext.html
 */

/** Corrupt CFI at `offset` bytes into the section; turned into a ProfileError by the caller. */
export class CfiError extends Error {
  override name = 'CfiError';

  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Addresses of the sections pointer encodings are relative to (`textrel`, `datarel`). */
export interface PointerBases {
  /** Address of the section being read: the base of `pcrel`. */
  readonly section: number;
  readonly text?: number;
  readonly data?: number;
  /** An 8-byte value at a virtual address of the binary (`DW_EH_PE_indirect`), or undefined. */
  readonly load?: (vaddr: number) => number | undefined;
}

export const DW_EH_PE_omit = 0xff;
const DW_EH_PE_indirect = 0x80;
const TWO_32 = 2 ** 32;

export class CfiReader {
  /** Reads stop at `limit` (the current entry's end); `pos` and `limit` index `bytes`. */
  pos = 0;
  limit: number;

  constructor(readonly bytes: Uint8Array) {
    this.limit = bytes.length;
  }

  fail(message: string, at = this.pos): never {
    throw new CfiError(message, at);
  }

  private need(n: number): void {
    if (this.pos + n > this.limit) this.fail(`truncated: ${n} bytes needed, ${Math.max(0, this.limit - this.pos)} left in the entry`);
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const b = this.bytes;
    const p = this.pos;
    this.pos = p + 2;
    return b[p]! | (b[p + 1]! << 8);
  }

  u32(): number {
    this.need(4);
    const b = this.bytes;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
  }

  s32(): number {
    this.need(4);
    const b = this.bytes;
    const p = this.pos;
    this.pos = p + 4;
    return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
  }

  u64(): number {
    const low = this.u32();
    return low + this.u32() * TWO_32;
  }

  s64(): number {
    const low = this.u32();
    return low + this.s32() * TWO_32;
  }

  /** Unsigned LEB128; bits beyond 2^63 are read and dropped (a 10-byte bound is not needed: the entry's end bounds it). */
  uleb(): number {
    const b = this.bytes;
    let result = 0;
    let scale = 1;
    let byte;
    do {
      if (this.pos >= this.limit) this.fail('truncated LEB128 value');
      byte = b[this.pos++]!;
      if (scale < TWO_32 * TWO_32) result += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    return result;
  }

  sleb(): number {
    const b = this.bytes;
    let result = 0;
    let scale = 1;
    let byte;
    do {
      if (this.pos >= this.limit) this.fail('truncated LEB128 value');
      byte = b[this.pos++]!;
      if (scale < TWO_32 * TWO_32) result += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    if (byte & 0x40 && scale <= TWO_32 * TWO_32) result -= scale;
    return result;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** A NUL-terminated string's bytes as latin1 (augmentation strings: a few ASCII letters). */
  cstring(): string {
    const start = this.pos;
    const end = this.bytes.indexOf(0, start);
    if (end < 0 || end >= this.limit) this.fail('unterminated augmentation string');
    this.pos = end + 1;
    let text = '';
    for (let i = start; i < end; i++) text += String.fromCharCode(this.bytes[i]!);
    return text;
  }

  /**
   * A value in pointer encoding `encoding`. `relative` false reads only the format (FDE address
   * ranges are sizes, not addresses). `funcStart` is the base of `funcrel`.
   */
  pointer(encoding: number, bases: PointerBases, relative = true, funcStart = 0): number {
    const fieldAt = this.pos;
    const application = encoding & 0x70;
    if (application === 0x50) {
      // aligned: the value starts at the next multiple of the address size in memory.
      const address = bases.section + this.pos;
      this.skip((8 - (address % 8)) % 8);
    }
    let value: number;
    switch (encoding & 0x0f) {
      case 0x00: value = this.u64(); break; // absptr: x86-64 addresses are 8 bytes
      case 0x01: value = this.uleb(); break;
      case 0x02: value = this.u16(); break;
      case 0x03: value = this.u32(); break;
      case 0x04: value = this.u64(); break;
      case 0x09: value = this.sleb(); break;
      case 0x0a: { const v = this.u16(); value = v >= 0x8000 ? v - 0x10000 : v; break; }
      case 0x0b: value = this.s32(); break;
      case 0x0c: value = this.s64(); break;
      default: this.fail(`unknown pointer encoding 0x${encoding.toString(16)}`, fieldAt);
    }
    if (!relative) return value;
    switch (application) {
      case 0x00: case 0x50: break;
      case 0x10: value += bases.section + fieldAt; break;
      case 0x20:
        if (bases.text === undefined) this.fail('textrel pointer but no .text section', fieldAt);
        value += bases.text;
        break;
      case 0x30:
        if (bases.data === undefined) this.fail('datarel pointer but no .got section', fieldAt);
        value += bases.data;
        break;
      case 0x40: value += funcStart; break;
      default: this.fail(`unknown pointer encoding 0x${encoding.toString(16)}`, fieldAt);
    }
    if (encoding & DW_EH_PE_indirect) {
      const target = bases.load?.(value);
      if (target === undefined) this.fail(`indirect pointer to 0x${value.toString(16)} outside the binary's loaded data`, fieldAt);
      value = target;
    }
    return value;
  }

  /** Skips a pointer without resolving it (personality routines and LSDAs: not needed to unwind). */
  skipPointer(encoding: number, bases: PointerBases): void {
    this.pointer(encoding & 0x7f, bases, false);
  }
}
