/**
 * Kernel symbols from /proc/kallsyms (`ffffffff81000000 T _stext`, module symbols end in
 * `[ext4]`). Kernel addresses exceed 2^53, so they stay BigInt in a sorted BigUint64Array.
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

export class Kallsyms {
  private constructor(
    private readonly addresses: BigUint64Array,
    private readonly names: readonly string[],
    private readonly modules: readonly string[],
  ) {}

  get size(): number {
    return this.addresses.length;
  }

  /** Parses kallsyms text; undefined when it holds no usable (non-zero) text address. */
  static parse(text: string): Kallsyms | undefined {
    const entries: { address: bigint; name: string; module: string }[] = [];
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      const line = text.slice(start, end);
      start = end + 1;
      const firstSpace = line.indexOf(' ');
      if (firstSpace <= 0 || line.length < firstSpace + 4) continue;
      const type = line[firstSpace + 1];
      // Code only: t/T text, w/W weak (often code); data symbols would name garbage.
      if (type !== 't' && type !== 'T' && type !== 'w' && type !== 'W') continue;
      let address: bigint;
      try {
        address = BigInt(`0x${line.slice(0, firstSpace)}`);
      } catch {
        continue;
      }
      if (address === 0n) continue;
      const rest = line.slice(firstSpace + 3);
      const tab = rest.indexOf('\t');
      const name = tab < 0 ? rest : rest.slice(0, tab);
      const module = tab < 0 ? KERNEL_MODULE : rest.slice(tab + 1).replace(/^\[|\]$/g, '').trim() || KERNEL_MODULE;
      entries.push({ address, name, module });
    }
    if (entries.length === 0) return undefined;
    entries.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    return new Kallsyms(
      BigUint64Array.from(entries, (e) => e.address),
      entries.map((e) => e.name),
      entries.map((e) => e.module),
    );
  }

  lookup(address: bigint): KernelSymbol | undefined {
    const addresses = this.addresses;
    let lo = 0;
    let hi = addresses.length - 1;
    if (hi < 0 || address < addresses[0]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (addresses[mid]! <= address) lo = mid;
      else hi = mid - 1;
    }
    return { name: this.names[lo]!, module: this.modules[lo]!, offset: address - addresses[lo]! };
  }
}
