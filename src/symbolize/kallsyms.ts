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

/** Indices of `keys` in ascending order; packing key and index in one double lets the sort run natively. */
function sortedOrder(keys: Float64Array): Uint32Array {
  const n = keys.length;
  const bits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  let max = 0;
  for (let i = 0; i < n; i++) if (keys[i]! > max) max = keys[i]!;
  const order = new Uint32Array(n);
  if (max * 2 ** bits < Number.MAX_SAFE_INTEGER) {
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) packed[i] = keys[i]! * 2 ** bits + i;
    packed.sort();
    for (let i = 0; i < n; i++) order[i] = packed[i]! % 2 ** bits;
    return order;
  }
  for (let i = 0; i < n; i++) order[i] = i;
  return order.sort((a, b) => keys[a]! - keys[b]! || a - b);
}

export class Kallsyms {
  private readonly names = new Map<number, KernelSymbol>();

  private constructor(
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
