/**
 * The binary step of the symbolizer: an address in a binary (as a virtual address of its ELF file)
 * → its frames, root first, inlined calls included. Each binary's frames are kept in a FrameTable
 * (cache.ts: read from and written to the on-disk cache by build-id), looked up there first, else
 * in the symbol table and DWARF; names are demangled once per name and frames interned once per
 * frame, not once per address.
 */
import type { FrameId } from '../profile/model.js';
import { tableOfOpenBinary } from '../unwind/captured.js';
import { EhFrameIndex } from '../unwind/eh-frame-index.js';
import { functionStart, functionStartsOf, type FunctionStarts } from '../unwind/function-start.js';
import { hasDebugLines, type Binary } from './binaries.js';
import { FrameTable, type CachedFrame } from './cache.js';
import type { SymbolCache } from './symbol-cache.js';
import { IDENTITY_DEMANGLER, isMangled, type Demangler } from './demangle.js';
import type { DemangleAhead } from './demangle-ahead.js';
import { DwarfFile } from './dwarf/index.js';
import type { KernelNaming } from './kernel-names.js';
import type { Gap } from './report.js';
import type { Resolved } from './resolved.js';
import type { SymbolHost } from './source.js';

/** A binary's frame table (from the on-disk cache or built in this run) and its frames' ids in this profile. */
export interface BinaryNames {
  readonly table: FrameTable;
  readonly module: string;
  /** Frame ids by frame number, as the outermost frame (`user`) and as an inlined one. */
  readonly userIds: (FrameId | undefined)[];
  readonly inlineIds: (FrameId | undefined)[];
  readonly gap: Gap;
  /** By frame number: what an address whose one frame has no file:line resolves to (the same for all of them). */
  readonly withoutDebug: (Resolved | undefined)[];
}

const NO_FRAMES: readonly never[] = [];

export interface BinaryFramesOptions {
  readonly demangle: boolean;
  readonly host: SymbolHost;
  readonly cacheDirectory: string | undefined;
}

export class BinaryFrames {
  private readonly names = new Map<Binary, BinaryNames>();
  /** Frame tables of binaries without a build-id (the others are the cache's, by build-id). */
  private readonly ownTables = new Map<Binary, FrameTable>();
  private readonly demangledNames = new Map<string, string>();
  private readonly opened = new Set<DwarfFile>();
  /** The binaries whose DWARF is open. */
  private readonly dwarfOf = new Map<Binary, DwarfFile>();
  /** FDE starts and spans of stripped binaries without a usable `.eh_frame_hdr`, from their unwind tables (read once per binary). */
  private readonly functionStarts = new Map<Binary, FunctionStarts | null>();
  /** `.eh_frame_hdr` indexes (null: none usable, the unwind table answers): a binary search instead of compiling every FDE. */
  private readonly frameIndexes = new Map<Binary, EhFrameIndex | null>();
  /** Names stay as the symbol tables have them until the symbolizer has loaded the demangler. */
  demangler: Demangler = IDENTITY_DEMANGLER;
  /** Names being demangled on a worker thread (set by the symbolizer for a run with many new ones). */
  ahead: DemangleAhead | undefined;

  constructor(
    private readonly naming: KernelNaming,
    private readonly options: BinaryFramesOptions,
    private readonly cache: SymbolCache,
    private readonly warn: (message: string) => void,
  ) {}

  /** The start of the function holding `vaddr` by the binary's unwind table (read once per binary). */
  functionStartOf(binary: Binary, vaddr: number): number | undefined {
    let index = this.frameIndexes.get(binary);
    if (index === undefined) {
      try {
        index = EhFrameIndex.of(binary.elf) ?? null;
      } catch {
        index = null;
      }
      this.frameIndexes.set(binary, index);
    }
    if (index) return index.functionStart(vaddr);
    let known = this.functionStarts.get(binary);
    if (known === undefined) {
      try {
        const table = tableOfOpenBinary(binary.elf.source, { host: this.options.host, cacheDirectory: this.options.cacheDirectory });
        known = table ? functionStartsOf(table) : null;
      } catch (error) {
        this.warn(`${binary.elf.source.path}: unwind information unreadable (${(error as Error).message}); unnamed addresses keep their own offsets`);
        known = null;
      }
      this.functionStarts.set(binary, known);
    }
    return known ? functionStart(known, vaddr) : undefined;
  }

  namesOf(binary: Binary, path: string | undefined): BinaryNames {
    let names = this.names.get(binary);
    if (!names) {
      names = {
        table: binary.buildId === undefined ? this.ownTable(binary) : this.cache.table(binary.buildId, binary.hasDwarf),
        module: binary.module,
        userIds: [],
        inlineIds: [],
        gap: this.naming.gaps.gap(binary.module, path),
        withoutDebug: [],
      };
      this.names.set(binary, names);
    }
    return names;
  }

  private ownTable(binary: Binary): FrameTable {
    let table = this.ownTables.get(binary);
    if (!table || table.withDwarf !== binary.hasDwarf) this.ownTables.set(binary, (table = new FrameTable(binary.hasDwarf)));
    return table;
  }

  /**
   * A new profile (the next interval of a long-lived symbolizer): frame ids and gaps belonged to
   * the last one; frame tables, DWARF and demangled names stay.
   */
  nextRun(): void {
    this.names.clear();
    this.frameIndexes.clear();
    // Names of binaries since gone would otherwise pile up; the tables keep what they demangled.
    if (this.demangledNames.size > 50_000) this.demangledNames.clear();
  }

  /** Lets go of an evicted binary: its DWARF closed, its tables dropped (the cache's by the caller). */
  forget(binary: Binary): void {
    this.names.delete(binary);
    this.ownTables.delete(binary);
    this.functionStarts.delete(binary);
    this.frameIndexes.delete(binary);
    const dwarf = binary.dwarfState as DwarfFile | null | undefined;
    if (dwarf) {
      dwarf.close();
      this.opened.delete(dwarf);
    }
    this.dwarfOf.delete(binary);
    binary.dwarfState = undefined;
  }

  /** The profile's id of a binary's frame: interned once per frame (and kind), not once per address. */
  frameId(names: BinaryNames, frame: number, outermost: boolean): FrameId {
    const ids = outermost ? names.userIds : names.inlineIds;
    let id = ids[frame];
    if (id === undefined) {
      const table = names.table;
      const file = table.file(frame);
      const line = table.line(frame);
      // Built field by field: object spreads go through a slow generic copy (64k frames).
      const shown: { name: string; kind: 'user' | 'inline'; module: string; file?: string; line?: number } = {
        name: this.shownName(table, frame),
        kind: outermost ? 'user' : 'inline',
        module: names.module,
      };
      if (file !== null) shown.file = file;
      if (line > 0) shown.line = line;
      id = this.naming.builder.internFrame(shown, true);
      ids[frame] = id;
    }
    return id;
  }

  /**
   * A frame's name as shown: demangled once, and the result kept in the cache so the next run
   * skips the demangler (and the mangled name is not even read).
   */
  private shownName(table: FrameTable, frame: number): string {
    if (this.options.demangle) {
      const known = table.demangled(frame);
      if (known !== undefined) return known;
    }
    const name = table.name(frame);
    if (name === null) return '[inlined]';
    if (!this.options.demangle) return name;
    const shown = this.demangled(name);
    table.setDemangled(frame, shown);
    return shown;
  }

  /** Many addresses share a function: each name goes through the WASM demangler once (100k addresses: −0.3 s). */
  private demangled(name: string): string {
    // C names (all of libc, the kernel's) need neither the demangler nor a map entry.
    if (!isMangled(name)) return name;
    let result = this.demangledNames.get(name);
    if (result === undefined) {
      result = this.ahead?.get(name) ?? this.demangler.demangle(name);
      this.demangledNames.set(name, result);
    }
    return result;
  }

  /**
   * The record of an address's frames, root first, inlined calls included (names still mangled):
   * from the cache, else the symbol table and DWARF (then added). Empty when nothing names it.
   */
  record(binary: Binary, table: FrameTable, vaddr: number): number {
    const cached = table.find(vaddr);
    if (cached >= 0) return cached;
    const symbol = binary.symbols.lookup(vaddr);
    const dwarf = this.dwarf(binary);
    const source = dwarf ? dwarf.frames(vaddr, true) : NO_FRAMES;
    const name = symbol?.name ?? source[0]?.name;
    if (name === undefined) return table.add(vaddr, NO_FRAMES);
    // One frame without file:line (a binary without DWARF): no arrays made per address.
    if (source.length === 0) return table.addOne(vaddr, name);
    return table.add(vaddr, source.map((f, i): CachedFrame => [i === 0 ? name : (f.name ?? null), f.file ?? null, f.line ?? 0]));
  }

  /** The DWARF of a binary (its debug file's, else its own), opened on first use. */
  private dwarf(binary: Binary): DwarfFile | undefined {
    if (!binary.hasDwarf) return undefined;
    if (binary.dwarfState === undefined) {
      const file = binary.debug && hasDebugLines(binary.debug.elf) ? binary.debug.elf : binary.elf;
      const dwarf = DwarfFile.open(file.source);
      if (!dwarf) this.warn(`${file.source.path}: DWARF unreadable (libdw.so.1 missing or the file is damaged); no file:line for ${binary.module}`);
      binary.dwarfState = dwarf ?? null;
      if (dwarf) {
        this.opened.add(dwarf);
        this.dwarfOf.set(binary, dwarf);
      }
    }
    return (binary.dwarfState as DwarfFile | null) ?? undefined;
  }

  /** Closes the DWARF opened, to be opened again on the next address not in a frame table. */
  closeDwarf(): void {
    for (const binary of this.dwarfOf.keys()) binary.dwarfState = undefined;
    this.close();
  }

  /** Ends the demangling worker of this run, if any. */
  endAhead(): void {
    this.ahead?.close();
    this.ahead = undefined;
  }

  /** Closes the DWARF opened (before the binaries whose descriptors libdw reads through). */
  close(): void {
    this.endAhead();
    for (const dwarf of this.opened) dwarf.close();
    this.opened.clear();
    this.dwarfOf.clear();
  }
}
