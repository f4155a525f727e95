/**
 * The kernel step of the symbolizer: kernel addresses → kallsyms names (module names kept). The
 * vmlinux part of /proc/kallsyms is kept in the on-disk cache by kernel build-id, so a run whose
 * samples all fall in the kernel image reads a few KB of /proc/kallsyms instead of all of it.
 */
import type { ProfileBuilder } from '../profile/builder.js';
import type { SymbolCache } from './symbol-cache.js';
import { Kallsyms, kallsymsAnchor, kernelBuildId, KernelSymbols, KERNEL_MODULE } from './kallsyms.js';
import type { GapCounter } from './report.js';
import { hex, type Resolved } from './resolved.js';
import type { SymbolHost } from './source.js';

/** Where the kernel step interns its frames and counts its gaps. */
export interface KernelNaming {
  readonly builder: ProfileBuilder;
  readonly gaps: GapCounter;
}

export class KernelNames {
  private kallsyms: Kallsyms | undefined | null = null;
  /** The vmlinux symbols from the on-disk cache, when valid for the running kernel (null: not looked for yet). */
  private kernelCopy: KernelSymbols | undefined | null = null;
  private kernelId: string | undefined;
  /** A valid copy was found (then dropped once the whole of /proc/kallsyms is read: it names all the copy does). */
  private copyFound = false;
  /** The copy was written (once per symbolizer, however many runs it serves). */
  private kept = false;
  /** Named addresses, apart for return addresses and leaves: an address is named as the one or the other. */
  private readonly byAddress = new Map<bigint, Resolved>();
  private readonly leaves = new Map<bigint, Resolved>();
  /** By kallsyms symbol number: one frame and one Resolved per kernel function (of the full table, and of the copy). */
  private kernelResolved: (Resolved | undefined)[] = [];
  private copyResolved: (Resolved | undefined)[] = [];

  constructor(
    private readonly naming: KernelNaming,
    private readonly host: SymbolHost,
    private readonly cache: SymbolCache,
    private readonly warn: (message: string) => void,
  ) {}

  /** A new profile (the next interval of a long-lived symbolizer): its frame ids belonged to the last one. */
  nextRun(): void {
    this.byAddress.clear();
    this.leaves.clear();
    this.kernelResolved = [];
    this.copyResolved = [];
  }

  /**
   * The cached vmlinux symbols, when the cache holds them for this kernel's build-id and the first
   * code symbol of /proc/kallsyms (a few KB read, not 5 MB) still sits where it did: KASLR moves
   * the image at every boot.
   */
  private kernelSymbols(): KernelSymbols | undefined {
    if (this.kernelCopy !== null) return this.kernelCopy;
    this.kernelCopy = undefined;
    const host = this.host;
    const notes = host.kernelNotes?.();
    this.kernelId = notes ? kernelBuildId(notes) : undefined;
    if (this.kernelId === undefined || !host.kallsymsHead) return undefined;
    const bytes = this.cache.readFile(`kernel-${this.kernelId}.bin`);
    const copy = bytes ? KernelSymbols.load(bytes, this.kernelId) : undefined;
    if (!copy) return undefined;
    // Percpu symbols (address 0 or small) may come first: read on until a code symbol shows.
    for (const size of [1 << 16, 1 << 20]) {
      const head = host.kallsymsHead(size);
      const anchor = head ? kallsymsAnchor(head) : undefined;
      if (anchor !== undefined) {
        if (anchor === copy.anchor) {
          this.kernelCopy = copy;
          this.copyFound = true;
        }
        break;
      }
      if (!head || head.length < size) break;
    }
    return this.kernelCopy;
  }

  /** After a run that read /proc/kallsyms without a valid copy: its vmlinux part, for the next run. */
  keep(cacheDirectory: string | undefined): void {
    if (!this.kallsyms || this.copyFound || this.kernelId === undefined || cacheDirectory === undefined || this.kept) return;
    this.kept = true;
    const text = this.kallsyms.nameBlob();
    const anchor = kallsymsAnchor(text);
    if (anchor === undefined) return;
    const copy = KernelSymbols.of(this.kallsyms, anchor);
    if (copy.symbols.size >= 2) this.cache.writeFile(`kernel-${this.kernelId}.bin`, copy.serialize(this.kernelId));
  }

  resolve(address: bigint, isReturnAddress: boolean): Resolved {
    const named = isReturnAddress ? this.byAddress : this.leaves;
    let resolved = named.get(address);
    if (resolved) return resolved;
    const builder = this.naming.builder;
    // A return address points after the call, and the call may be its function's last instruction.
    const target = isReturnAddress ? address - 1n : address;
    if (this.kallsyms === null) {
      const copy = this.kernelSymbols();
      const index = copy ? copy.symbols.indexOf(target) : -1;
      if (copy && copy.covers(index)) {
        resolved = this.copyResolved[index];
        if (!resolved) {
          const symbol = copy.symbols.symbol(index);
          resolved = { ids: [builder.internFrame({ name: symbol.name, kind: 'kernel', module: symbol.module }, true)], gap: undefined, unnamed: false, noDebug: false };
          this.copyResolved[index] = resolved;
        }
        named.set(address, resolved);
        return resolved;
      }
      // A module, a BPF program, past the image or no valid copy: the whole of /proc/kallsyms.
      const text = this.host.kallsyms();
      this.kallsyms = text === undefined ? undefined : Kallsyms.parse(text);
      this.kernelCopy = undefined;
      this.copyResolved = [];
      if (!this.kallsyms) this.warn('/proc/kallsyms: unreadable, or every address is 0 (kernel.kptr_restrict): kernel frames keep their addresses');
    }
    const index = this.kallsyms ? this.kallsyms.indexOf(target) : -1;
    if (index >= 0 && this.kallsyms!.holds(index, target)) {
      resolved = this.kernelResolved[index];
      if (!resolved) {
        const symbol = this.kallsyms!.symbol(index);
        resolved = { ids: [builder.internFrame({ name: symbol.name, kind: 'kernel', module: symbol.module }, true)], gap: undefined, unnamed: false, noDebug: false };
        this.kernelResolved[index] = resolved;
      }
    } else {
      const id = builder.internFrame({ name: hex(address), kind: 'kernel', module: KERNEL_MODULE });
      resolved = { ids: [id], gap: this.naming.gaps.gap(KERNEL_MODULE, undefined), unnamed: true, noDebug: false };
    }
    named.set(address, resolved);
    return resolved;
  }
}
