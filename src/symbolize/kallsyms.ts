/**
 * Kernel symbols from /proc/kallsyms (`ffffffff81000000 T _stext`, module symbols end in
 * `\t[ext4]`). Kernel addresses exceed 2^53: each is kept as a double holding its distance from
 * the lowest 4 GiB-aligned base, exact while the symbols span less than 2^53 bytes (they span a
 * few GiB), so sorting and searching stay on a Float64Array.
 *
 * Parsed from bytes with names decoded on first use: 120k lines cost ~20–40 ms instead of ~350 ms
 * with a string per line.
 *
 * kallsyms gives no sizes: an address is named by the nearest symbol at or below it, as perf and
 * BCC do. With kptr_restrict every address reads 0: then nothing is named and the caller is told.
 *
 * Reading /proc/kallsyms costs ~60–110 ms of kernel time (1,300 reads of 4 KB: the kernel formats
 * every line) before any parsing, so the vmlinux part is kept on disk (`KernelSymbols`), keyed by
 * the kernel's build-id and checked against the first code symbol of the live file: KASLR moves
 * the whole image at every boot, and that symbol moves with it. Modules, BPF programs and
 * trampolines come and go at run time and are never taken from the copy.
 */

export const KERNEL_MODULE = '[kernel.kallsyms]';

export interface KernelSymbol {
  readonly name: string;
  /** `[kernel.kallsyms]` or the module name (`ext4`). */
  readonly module: string;
  readonly offset: bigint;
}

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x61 + i] = HEX[0x41 + i] = 10 + i;

function hex8(text: Uint8Array, at: number): number {
  let value = 0;
  for (let i = at; i < at + 8; i++) {
    const digit = HEX[text[i]!]!;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/**
 * Indices of `keys` in ascending order (equal keys by index). The kernel image's part comes first
 * and in address order, so only what follows its sorted run (modules, BPF programs: a few hundred
 * lines) is sorted, then merged with it.
 */
function sortedOrder(keys: Float64Array): Uint32Array {
  const n = keys.length;
  let run = 1;
  while (run < n && keys[run]! >= keys[run - 1]!) run++;
  const order = new Uint32Array(n);
  if (run >= n) {
    for (let i = 0; i < n; i++) order[i] = i;
    return order;
  }
  const tail = sortedTail(keys, run);
  let i = 0;
  let j = 0;
  for (let k = 0; k < n; k++) {
    // At equal keys the run's index is the lower one: it goes first.
    if (j >= tail.length || (i < run && keys[i]! <= keys[tail[j]!]!)) order[k] = i++;
    else order[k] = tail[j++]!;
  }
  return order;
}

/** Indices `from`…n−1 of `keys` in ascending order; packing key and index in one double lets the sort run natively. */
function sortedTail(keys: Float64Array, from: number): Uint32Array {
  const n = keys.length - from;
  const bits = Math.max(1, Math.ceil(Math.log2(keys.length + 1)));
  let max = 0;
  for (let i = from; i < keys.length; i++) if (keys[i]! > max) max = keys[i]!;
  const order = new Uint32Array(n);
  if (max * 2 ** bits < Number.MAX_SAFE_INTEGER) {
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) packed[i] = keys[from + i]! * 2 ** bits + from + i;
    packed.sort();
    for (let i = 0; i < n; i++) order[i] = packed[i]! % 2 ** bits;
    return order;
  }
  for (let i = 0; i < n; i++) order[i] = from + i;
  return order.sort((a, b) => keys[a]! - keys[b]! || a - b);
}

/** Longer than any kernel function: past a table's last symbol, an address further away is in none of them. */
const MAX_SYMBOL_BYTES = 1 << 20;

export class Kallsyms {
  private readonly names = new Map<number, KernelSymbol>();

  constructor(
    private readonly text: Buffer,
    private readonly base: bigint,
    private readonly offsets: Float64Array,
    /** Per symbol: start of its name in `text`, and the end of its line. */
    private readonly nameStarts: Uint32Array,
    private readonly lineEnds: Uint32Array,
  ) {}

  get size(): number {
    return this.offsets.length;
  }

  /** Parses kallsyms; undefined when it holds no usable (non-zero) code address. */
  static parse(input: Buffer | string): Kallsyms | undefined {
    const text = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
    const capacity = Math.ceil(text.length / 20) + 1;
    let highs = new Float64Array(capacity);
    let lows = new Float64Array(capacity);
    let nameStarts = new Uint32Array(capacity);
    let lineEnds = new Uint32Array(capacity);
    let n = 0;
    let start = 0;
    while (start < text.length) {
      // The native search: a byte loop here runs unoptimized for most of its only call (~200 ms vs ~20 ms).
      let end = text.indexOf(0x0a, start);
      if (end < 0) end = text.length;
      const lineStart = start;
      start = end + 1;
      if (end < lineStart + 20 || text[lineStart + 16] !== 0x20 || text[lineStart + 18] !== 0x20) continue;
      const type = text[lineStart + 17];
      // Code only (t/T text, w/W weak): data symbols would name garbage.
      if (type !== 0x74 && type !== 0x54 && type !== 0x77 && type !== 0x57) continue;
      const high = hex8(text, lineStart);
      const low = hex8(text, lineStart + 8);
      if (high < 0 || low < 0 || (high === 0 && low === 0)) continue;
      if (n === highs.length) {
        const grow = <T extends Float64Array | Uint32Array>(a: T): T => {
          const b = new (a.constructor as new (n: number) => T)(a.length * 2);
          b.set(a);
          return b;
        };
        highs = grow(highs);
        lows = grow(lows);
        nameStarts = grow(nameStarts);
        lineEnds = grow(lineEnds);
      }
      highs[n] = high;
      lows[n] = low;
      nameStarts[n] = lineStart + 19;
      lineEnds[n] = end;
      n++;
    }
    if (n === 0) return undefined;
    let minHigh = highs[0]!;
    for (let i = 1; i < n; i++) if (highs[i]! < minHigh) minHigh = highs[i]!;
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = (highs[i]! - minHigh) * 0x1_0000_0000 + lows[i]!;
    const order = sortedOrder(keys);
    const sortedKeys = new Float64Array(n);
    const sortedStarts = new Uint32Array(n);
    const sortedEnds = new Uint32Array(n);
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      sortedKeys[k] = keys[i]!;
      sortedStarts[k] = nameStarts[i]!;
      sortedEnds[k] = lineEnds[i]!;
    }
    return new Kallsyms(text, BigInt(minHigh) << 32n, sortedKeys, sortedStarts, sortedEnds);
  }

  lookup(address: bigint): KernelSymbol | undefined {
    const index = this.indexOf(address);
    if (index < 0) return undefined;
    const symbol = this.symbol(index);
    return { name: symbol.name, module: symbol.module, offset: BigInt(Number(address - this.base) - this.offsets[index]!) };
  }

  /** The symbol at or below `address` (its number, for `symbol`), or −1. */
  indexOf(address: bigint): number {
    if (address < this.base) return -1;
    const key = Number(address - this.base);
    const offsets = this.offsets;
    let lo = 0;
    let hi = offsets.length - 1;
    if (hi < 0 || key < offsets[0]!) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (offsets[mid]! <= key) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Whether symbol `index` (from `indexOf(address)`) can be the one holding `address`. kallsyms
   * gives no sizes, so an address past the last symbol of the kernel image, or of the whole table,
   * would take that symbol's name however far away it lies: the code of a BPF program unloaded
   * since the sample, 1 GB past `_einittext`. No function is MAX_SYMBOL_BYTES long.
   */
  holds(index: number, address: bigint): boolean {
    if (index < 0) return false;
    const last = index === this.offsets.length - 1 || (!this.hasModule(index) && index === this.lastImageSymbol());
    return !last || Number(address - this.base) - this.offsets[index]! < MAX_SYMBOL_BYTES;
  }

  private lastImage: number | undefined;

  /** The number of the kernel image's last symbol (the highest without a module), −1 when none. */
  private lastImageSymbol(): number {
    if (this.lastImage === undefined) {
      let last = -1;
      for (let i = this.offsets.length - 1; i >= 0 && last < 0; i--) if (!this.hasModule(i)) last = i;
      this.lastImage = last;
    }
    return this.lastImage;
  }

  get baseAddress(): bigint {
    return this.base;
  }

  /** The distance of symbol `index` from `baseAddress`. */
  offsetOf(index: number): number {
    return this.offsets[index]!;
  }

  offsetArray(): Float64Array {
    return this.offsets;
  }

  endArray(): Uint32Array {
    return this.lineEnds;
  }

  /** The text the names are read from (the cache writes it as it is when every line is a bare name). */
  nameBlob(): Buffer {
    return this.text;
  }

  /** True for a module's symbol (`name\t[ext4]`). */
  hasModule(index: number): boolean {
    return this.nameEnd(index) < this.lineEnds[index]!;
  }

  /** The length of a kernel image symbol's name in bytes; −1 for a module's symbol. */
  nameLength(index: number): number {
    const end = this.nameEnd(index);
    return end < this.lineEnds[index]! ? -1 : end - this.nameStarts[index]!;
  }

  /** Copies the bytes of a kernel image symbol's name (see nameLength) into `target` at `at`. */
  copyName(index: number, target: Buffer, at: number): void {
    this.text.copy(target, at, this.nameStarts[index]!, this.lineEnds[index]!);
  }

  /** Where the name ends: at the tab before a module, else at the end of the line (a short scan, not `indexOf` across the file). */
  private nameEnd(index: number): number {
    const text = this.text;
    const end = this.lineEnds[index]!;
    for (let i = this.nameStarts[index]!; i < end; i++) if (text[i] === 0x09) return i;
    return end;
  }

  /** Name and module of symbol number `index` (offset 0). */
  symbol(index: number): KernelSymbol {
    let symbol = this.names.get(index);
    if (!symbol) {
      const line = this.text.toString('utf8', this.nameStarts[index]!, this.lineEnds[index]!);
      const tab = line.indexOf('\t');
      const module = tab < 0 ? '' : line.slice(tab + 1).trim();
      symbol = {
        name: tab < 0 ? line : line.slice(0, tab),
        module: (module.startsWith('[') && module.endsWith(']') ? module.slice(1, -1) : module) || KERNEL_MODULE,
        offset: 0n,
      };
      this.names.set(index, symbol);
    }
    return symbol;
  }
}

const KSYM_MAGIC = 0x4d59_534b; // "KSYM"
const KSYM_VERSION = 1;
const KSYM_HEADER = 32;

/**
 * The first code symbol's line in file order (`ffffffff81000000 T _stext`): vmlinux comes first
 * and moves as a whole with KASLR, so an equal line means equal addresses for all of it.
 * Undefined when `text` holds none (unreadable, or zeros under kptr_restrict).
 */
export function kallsymsAnchor(text: Buffer): string | undefined {
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf(0x0a, start);
    if (end < 0) return undefined; // a partial line: read more
    const lineStart = start;
    start = end + 1;
    if (end < lineStart + 20 || text[lineStart + 16] !== 0x20 || text[lineStart + 18] !== 0x20) continue;
    const type = text[lineStart + 17];
    if (type !== 0x74 && type !== 0x54) continue;
    const high = hex8(text, lineStart);
    const low = hex8(text, lineStart + 8);
    if (high <= 0 && low <= 0) continue;
    return text.toString('latin1', lineStart, end);
  }
  return undefined;
}

/** The GNU build-id in /sys/kernel/notes (ELF notes), as hex. */
export function kernelBuildId(notes: Buffer): string | undefined {
  let at = 0;
  while (at + 12 <= notes.length) {
    const namesz = notes.readUInt32LE(at);
    const descsz = notes.readUInt32LE(at + 4);
    const type = notes.readUInt32LE(at + 8);
    const descStart = at + 12 + Math.ceil(namesz / 4) * 4;
    const next = descStart + Math.ceil(descsz / 4) * 4;
    if (next > notes.length) return undefined;
    if (type === 3 && namesz === 4 && notes.toString('latin1', at + 12, at + 15) === 'GNU' && descsz > 0 && descsz <= 64) {
      return notes.toString('hex', descStart, descStart + descsz);
    }
    at = next;
  }
  return undefined;
}

/**
 * The vmlinux symbols of a kallsyms table, for the on-disk copy. An address is taken from it only
 * between two of its symbols (`covers`): nothing loaded at run time lies inside the kernel image,
 * while past its last symbol a module or BPF program may.
 */
export class KernelSymbols {
  private constructor(
    readonly symbols: Kallsyms,
    readonly anchor: string,
  ) {}

  /** True when the symbol found for an address (`indexOf`) is sure to be the full table's answer. */
  covers(index: number): boolean {
    return index >= 0 && index < this.symbols.size - 1;
  }

  /** The vmlinux part of a full table (symbols without a module), with the anchor of its text. */
  static of(full: Kallsyms, anchor: string): KernelSymbols {
    // Two passes over the table, no object per symbol: 120k names are copied into one buffer.
    let count = 0;
    let bytes = 0;
    for (let i = 0; i < full.size; i++) {
      const length = full.nameLength(i);
      if (length >= 0) {
        count++;
        bytes += length;
      }
    }
    const offsets = new Float64Array(count);
    const starts = new Uint32Array(count);
    const ends = new Uint32Array(count);
    const names = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (let i = 0, k = 0; i < full.size; i++) {
      const length = full.nameLength(i);
      if (length < 0) continue;
      offsets[k] = full.offsetOf(i);
      starts[k] = at;
      full.copyName(i, names, at);
      at += length;
      ends[k] = at;
      k++;
    }
    return new KernelSymbols(new Kallsyms(names, full.baseAddress, offsets, starts, ends), anchor);
  }

  /** The cache file: header, anchor, Float64 offsets, Uint32 name ends, name bytes. */
  serialize(buildId: string): Buffer {
    const k = this.symbols;
    const n = k.size;
    const id = Buffer.from(buildId, 'latin1');
    const anchor = Buffer.from(this.anchor, 'latin1');
    const pad = (x: number): number => Math.ceil(x / 8) * 8;
    const names = k.nameBlob();
    const size = KSYM_HEADER + pad(id.length) + pad(anchor.length) + n * 8 + n * 4 + names.length;
    const out = Buffer.alloc(size);
    const base = k.baseAddress;
    [KSYM_MAGIC, KSYM_VERSION, n, id.length, anchor.length, names.length, Number(base >> 32n), Number(base & 0xffff_ffffn)].forEach((v, i) => out.writeUInt32LE(v, i * 4));
    let at = KSYM_HEADER;
    id.copy(out, at);
    at += pad(id.length);
    anchor.copy(out, at);
    at += pad(anchor.length);
    new Float64Array(out.buffer, out.byteOffset + at, n).set(k.offsetArray());
    at += n * 8;
    new Uint32Array(out.buffer, out.byteOffset + at, n).set(k.endArray());
    at += n * 4;
    names.copy(out, at);
    return out;
  }

  /** Reads a cache file; undefined when it is not a valid one for `buildId` (it is then rewritten). */
  static load(bytes: Buffer, buildId: string): KernelSymbols | undefined {
    if (bytes.length < KSYM_HEADER) return undefined;
    const buffer = bytes.byteOffset % 8 === 0 ? bytes : Buffer.from(bytes);
    const u32 = (i: number): number => buffer.readUInt32LE(i * 4);
    if (u32(0) !== KSYM_MAGIC || u32(1) !== KSYM_VERSION) return undefined;
    const [n, idLength, anchorLength, nameBytes] = [u32(2), u32(3), u32(4), u32(5)];
    const pad = (x: number): number => Math.ceil(x / 8) * 8;
    let at = KSYM_HEADER;
    if (at + pad(idLength) + pad(anchorLength) + n * 12 + nameBytes !== buffer.length || n < 2) return undefined;
    if (buffer.toString('latin1', at, at + idLength) !== buildId) return undefined;
    at += pad(idLength);
    const anchor = buffer.toString('latin1', at, at + anchorLength);
    at += pad(anchorLength);
    const offsets = new Float64Array(buffer.buffer, buffer.byteOffset + at, n);
    at += n * 8;
    const ends = new Uint32Array(buffer.buffer, buffer.byteOffset + at, n);
    at += n * 4;
    const starts = new Uint32Array(n);
    // Checked once here, so a damaged file costs speed, never a wrong name.
    for (let i = 0; i < n; i++) {
      if (i > 0 && (offsets[i]! < offsets[i - 1]! || ends[i]! < ends[i - 1]!)) return undefined;
      if (ends[i]! > nameBytes) return undefined;
      starts[i] = i === 0 ? 0 : ends[i - 1]!;
    }
    const base = (BigInt(u32(6)) << 32n) | BigInt(u32(7));
    return new KernelSymbols(new Kallsyms(buffer.subarray(at, at + nameBytes), base, offsets, starts, ends), anchor);
  }
}
