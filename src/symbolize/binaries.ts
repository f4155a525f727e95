/**
 * The binaries that processes mapped, each opened and parsed once per run and shared by every
 * process mapping the same file (same device and inode, or same build-id): a system-wide profile
 * of 500 shell processes reads libc's symbols once.
 */
import { basename } from 'node:path';
import type { ProcessSnapshot } from '../profile/raw.js';
import { findLocalDebugFile, verifyDebugFile, type DebugFile, type DebugFileOptions } from './debuginfo.js';
import { ElfError, ElfFile } from './elf/file.js';
import { loadSymbols, serializeSymbols } from './elf/symbol-file.js';
import { readSymbols, SymbolTable } from './elf/symbols.js';
import type { ByteSource, SymbolHost } from './source.js';

export interface Binary {
  /** The path the process mapped (for messages and package look-ups). */
  readonly path: string;
  /** Module name shown in frames: the file's base name. */
  readonly module: string;
  readonly buildId?: string;
  readonly elf: ElfFile;
  symbols: SymbolTable;
  /** The separate debug file, when one was found and verified. */
  debug?: DebugFile;
  /** True when the binary itself or its debug file has DWARF line information. */
  hasDwarf: boolean;
  /** Extension slot for the DWARF engine (dwarf/): opened on first use. */
  dwarfState?: unknown;
}

export interface BinaryLoaderOptions extends DebugFileOptions {
  readonly warn: (message: string) => void;
  /** Files kept between runs (the symbol cache directory), by name; absent: every run sorts its symbols. */
  readonly kept?: {
    read(name: string): Buffer | undefined;
    write(name: string, bytes: Uint8Array): boolean;
  };
}

/** Smaller tables sort in a millisecond or two: not worth a file each. */
const MIN_KEPT_SYMBOLS = 4096;

export function hasDebugLines(elf: ElfFile): boolean {
  const section = elf.section('.debug_line');
  return section !== undefined && section.size > 0 && section.type !== 8;
}

export class Binaries {
  private readonly byFile = new Map<string, Binary | null>();
  private readonly byBuildId = new Map<string, Binary>();
  private readonly failed = new Set<string>();
  private vdsoBinary: Binary | null | undefined;
  /** The run (`nextRun`) each binary was last asked for in: what a long-lived symbolizer evicts by. */
  private readonly lastUsed = new Map<Binary, number>();
  private run = 0;

  constructor(
    private readonly host: SymbolHost,
    private readonly options: BinaryLoaderOptions,
  ) {}

  /** The binary `pid` mapped at `path`, or undefined when it cannot be read (warned once per file). */
  get(pid: number, snapshot: ProcessSnapshot | undefined, path: string): Binary | undefined {
    const source = this.host.openMapped(pid, snapshot, path);
    if (!source) {
      this.warnOnce(path, `${path}: cannot open (process ${pid}); its frames keep module and offset`);
      return undefined;
    }
    const fileKey = source.inode !== undefined ? `${source.dev}:${source.inode}` : `path:${source.path}`;
    const known = this.byFile.get(fileKey);
    if (known !== undefined) {
      source.close();
      if (known) this.lastUsed.set(known, this.run);
      return known ?? undefined;
    }
    const binary = this.load(source, path);
    this.byFile.set(fileKey, binary ?? null);
    if (binary) this.lastUsed.set(binary, this.run);
    return binary;
  }

  /** Starts the next run of a long-lived symbolizer (an agent's interval). */
  nextRun(): void {
    this.run++;
    // One warning per file and run at most; the keys of files long gone are not kept for ever.
    if (this.failed.size > 4096) this.failed.clear();
  }

  /**
   * Forgets, and closes, the binaries no process maps any more (their inode is not in
   * `mappedInodes`) and, beyond `maxBinaries`, those asked for least recently. `release` lets go
   * of what is kept per binary elsewhere (its DWARF, which reads through its descriptor) first.
   */
  evict(mappedInodes: ReadonlySet<number>, maxBinaries: number, release: (binary: Binary) => void): number {
    // Keys are `dev:inode` (or `path:…` for a source without one, never kept).
    const isMapped = (key: string): boolean => mappedInodes.has(Number(key.slice(key.lastIndexOf(':') + 1)));
    const mapped = new Set<Binary>();
    for (const [key, binary] of this.byFile) if (binary && isMapped(key)) mapped.add(binary);
    const evicted = new Set([...this.lastUsed.keys()].filter((b) => !mapped.has(b)));
    const kept = [...mapped];
    if (kept.length > maxBinaries) {
      kept.sort((x, y) => (this.lastUsed.get(x) ?? 0) - (this.lastUsed.get(y) ?? 0));
      for (const binary of kept.slice(0, kept.length - maxBinaries)) evicted.add(binary);
    }
    for (const [key, binary] of this.byFile) if (binary ? evicted.has(binary) : !isMapped(key)) this.byFile.delete(key);
    for (const binary of evicted) {
      this.lastUsed.delete(binary);
      release(binary);
      if (binary.buildId !== undefined && this.byBuildId.get(binary.buildId) === binary) this.byBuildId.delete(binary.buildId);
      binary.elf.source.close();
      binary.debug?.elf.source.close();
    }
    return evicted.size;
  }

  /** Binaries held now. */
  get size(): number {
    return this.lastUsed.size;
  }

  /** Adds a debug file found later (debuginfod), if it is this binary's: same build-id. */
  attachDebugFile(binary: Binary, path: string, how: DebugFile['how']): boolean {
    const source = this.host.openFile(path);
    if (!source) return false;
    const verified = verifyDebugFile(source, binary.buildId, undefined);
    if (typeof verified === 'string') {
      source.close();
      this.warnOnce(path, `${path}: refused as debug file of ${binary.path}: ${verified}`);
      return false;
    }
    binary.debug = { elf: verified, path, how };
    try {
      binary.symbols = this.symbolsOf(binary.buildId, [verified, binary.elf]);
    } catch (error) {
      this.warnOnce(path, `${path}: ${error instanceof ElfError ? error.message : String(error)}; its symbols are not used`);
    }
    binary.hasDwarf = hasDebugLines(verified) || binary.hasDwarf;
    return true;
  }

  /** The vDSO of a process whose [vdso] mapping is `size` bytes: ours, when the size matches (a 32-bit process maps another one). */
  vdso(size: number): Binary | undefined {
    if (this.vdsoBinary === undefined) {
      this.vdsoBinary = null;
      const image = this.host.vdso?.();
      if (image) {
        try {
          const elf = new ElfFile(image.source);
          this.vdsoBinary = { path: '[vdso]', module: '[vdso]', buildId: elf.buildId(), elf, symbols: readSymbols([elf]), hasDwarf: false };
        } catch {
          // not an ELF image we can read: its frames keep module and offset
        }
      }
    }
    return this.vdsoBinary && this.vdsoBinary.elf.source.size === size ? this.vdsoBinary : undefined;
  }

  /** Closes the files opened for the run (captured descriptors stay open: their owner closes them). */
  close(): void {
    for (const binary of this.all()) {
      binary.elf.source.close();
      binary.debug?.elf.source.close();
    }
  }

  all(): Binary[] {
    return [...new Set([...this.byFile.values()].filter((b): b is Binary => b !== null))];
  }

  private load(source: ByteSource, path: string): Binary | undefined {
    let elf: ElfFile;
    let buildId: string | undefined;
    try {
      elf = new ElfFile(source);
      buildId = elf.buildId();
    } catch (error) {
      source.close();
      this.warnOnce(path, `${path}: ${error instanceof ElfError ? error.message : String(error)}; its frames keep module and offset`);
      return undefined;
    }
    if (buildId !== undefined) {
      const shared = this.byBuildId.get(buildId);
      if (shared) {
        source.close();
        return shared;
      }
    }
    const warn = (message: string): void => this.warnOnce(message, message);
    const debug = findLocalDebugFile(elf, path, buildId, this.host, this.options, warn);
    const files = debug ? [debug.elf, elf] : [elf];
    let symbols: SymbolTable | undefined;
    const loadSymbols = (): SymbolTable => {
      if (symbols) return symbols;
      symbols = SymbolTable.EMPTY;
      try {
        symbols = this.symbolsOf(buildId, files);
      } catch (error) {
        const message = error instanceof ElfError ? error.message : String(error);
        // One bad table must not cost the good one: retry with the binary alone.
        this.warnOnce(path, `${debug && files.length > 1 ? debug.path : path}: ${message}; its symbols are not used`);
        if (debug) {
          try {
            symbols = readSymbols([elf]);
          } catch {
            // nothing usable
          }
        }
      }
      return symbols;
    };
    const binary: Binary = {
      path,
      module: basename(path.replace(/ \(deleted\)$/, '')),
      buildId,
      elf,
      // Read on first use: addresses found in the on-disk cache need no symbol table.
      get symbols(): SymbolTable {
        return loadSymbols();
      },
      set symbols(table: SymbolTable) {
        symbols = table;
      },
      debug,
      hasDwarf: (debug !== undefined && hasDebugLines(debug.elf)) || hasDebugLines(elf),
    };
    if (buildId !== undefined) this.byBuildId.set(buildId, binary);
    return binary;
  }

  /**
   * The function symbols of `files`: sorted once per build-id and kept in the cache directory,
   * where a later run finds them for the same files. Throws ElfError as readSymbols does.
   */
  private symbolsOf(buildId: string | undefined, files: readonly ElfFile[]): SymbolTable {
    const kept = buildId !== undefined && /^[0-9a-f]+$/.test(buildId) ? this.options.kept : undefined;
    const name = `symbols-${buildId}.bin`;
    const bytes = kept?.read(name);
    const loaded = bytes && loadSymbols(bytes, files);
    if (loaded) return loaded;
    const symbols = readSymbols(files);
    const serialized = kept && symbols.length >= MIN_KEPT_SYMBOLS ? serializeSymbols(symbols, files) : undefined;
    if (serialized) kept!.write(name, serialized);
    return symbols;
  }

  private warnOnce(key: string, message: string): void {
    if (this.failed.has(key)) return;
    this.failed.add(key);
    this.options.warn(message);
  }
}
