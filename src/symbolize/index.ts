/**
 * The symbolizer: RawProfile (addresses + process snapshots) → Profile (named frames).
 *
 * For each sample, root first: the user stack (outermost caller first), then the kernel stack.
 * Each address goes through the steps below, in order; the first that knows it names it:
 *   kernel address  → kallsyms (module names kept)
 *   user address    → the process's mapping → its binary (symbols, separate debug file, DWARF
 *                      lines and inlined frames) — see binaries.ts, debuginfo.ts, dwarf/
 *                   → an address in anonymous executable memory: the JIT step (perf maps)
 *                   → otherwise a frame that keeps what is known: `[libfoo.so+0x1a2b]`
 * then names pass through the name step (demangling), and a root-frame step may put a frame
 * above the whole stack (the container). What could not be named is counted per module and
 * reported (report.ts).
 */
import { basename } from 'node:path';
import { ProfileBuilder } from '../profile/builder.js';
import type { Frame, FrameId, Profile, ThreadInfo } from '../profile/model.js';
import { byStart, findMapping, readUnwindMarker, type Mapping, type ProcessSnapshot, type RawProfile, type RawSample } from '../profile/raw.js';
import { StackQualityCounter } from './stack-quality.js';
import { STOP_NAMES } from '../unwind/walker.js';
import { tableOfOpenBinary } from '../unwind/captured.js';
import { functionStart } from '../unwind/function-start.js';
import type { UnwindTable } from '../unwind/rows.js';
import { HOST } from '../host/index.js';
import { Binaries, hasDebugLines, type Binary } from './binaries.js';
import { DwarfFile } from './dwarf/index.js';
import { CONTAINER_DEFAULTS, containerFrame, type ContainerOptions } from './container.js';
import { DEMANGLE_DEFAULTS, demanglerFor, IDENTITY_DEMANGLER, isMangled, type Demangler, type DemangleOptions } from './demangle.js';
import { JIT_DEFAULTS, JitSymbolizer, type JitOptions } from './jit.js';
import { DEBUG_FILE_DEFAULTS } from './debuginfo.js';
import { defaultCacheDirectory, FrameTable, SymbolCache, type CachedFrame } from './cache.js';
import { Debuginfod, debuginfodDefaults, type DebuginfodOptions } from './debuginfod.js';
import { Kallsyms, kallsymsAnchor, kernelBuildId, KernelSymbols, KERNEL_MODULE } from './kallsyms.js';
import { GapCounter, otherUsrPath, reportLines, type Gap, type PackageLookup, type SymbolizeReport } from './report.js';
import type { SymbolHost } from './source.js';

export type { ModuleGap, SymbolizeReport } from './report.js';
export { reportLines } from './report.js';

export interface SymbolizeOptions extends DemangleOptions, ContainerOptions, JitOptions {
  /** Inlined functions as their own frames (kind `inline`) when DWARF is available. Default true (`--no-inline` turns it off). */
  readonly inline: boolean;
  /** Directories searched for separate debug files by build-id and debuglink. Default `/usr/lib/debug`. */
  readonly debugDirectories: readonly string[];
  /** Warnings (one per file or server), e.g. printed on stderr by the CLI. Default: ignored (they are also in the report). */
  readonly warn: (message: string) => void;
  /** Where kallsyms and binaries are read from. Default: this machine (src/host). */
  readonly host: SymbolHost;
}

export interface SymbolizeOptions extends DebuginfodOptions {
  /** On-disk cache of resolved addresses by build-id. Default `$XDG_CACHE_HOME/profile` (`~/.cache/profile`); undefined: none. */
  readonly cacheDirectory: string | undefined;
}

export const DEFAULTS: SymbolizeOptions = Object.freeze({
  ...DEMANGLE_DEFAULTS,
  ...CONTAINER_DEFAULTS,
  ...JIT_DEFAULTS,
  inline: true,
  debugDirectories: DEBUG_FILE_DEFAULTS.debugDirectories,
  ...debuginfodDefaults(),
  cacheDirectory: defaultCacheDirectory(),
  warn: () => {},
  host: HOST,
});

interface ProcessView {
  readonly pid: number;
  readonly snapshot?: ProcessSnapshot;
  /** Executable mappings sorted by start. */
  readonly mappings: readonly Mapping[];
  /** Every mapping, then (when those miss) the live process's mappings now: read on first miss. */
  all?: readonly Mapping[];
  live?: readonly Mapping[] | null;
  roots?: FrameId[];
  readonly binaries: Map<string, Binary | undefined>;
  /** By return address (every frame but the leaf). */
  readonly resolved: Map<bigint, Resolved | FrameId>;
  /** By leaf address: the same address named as a leaf and as a return address can differ (a call that ends a function, an inlined call's line). */
  readonly resolvedLeaves: Map<bigint, Resolved | FrameId>;
}

function executableMappings(snapshot: ProcessSnapshot | undefined): Mapping[] {
  if (!snapshot) return [];
  return snapshot.mappings.filter((m) => m.perms[2] === 'x').sort(byStart);
}

const hex = (n: bigint | number): string => `0x${n.toString(16)}`;
/** What /proc/PID/maps appends to the path of a file deleted since it was mapped. */
const DELETED = ' (deleted)';
/** The file a mapping maps, without the ` (deleted)` mark. */
const mappedPath = (mapping: Mapping): string => (mapping.path.endsWith(DELETED) ? mapping.path.slice(0, -DELETED.length) : mapping.path);
/** A user address as an offset in its mapping's file: user addresses are below 2^47, exact as numbers (no BigInt made per address). */
const fileOffset = (mapping: Mapping, address: bigint): number => Number(address) - Number(mapping.start) + Number(mapping.offset);

/** `[libfoo.so+0x1a2b]`, `[vdso+0x9f0]`: what is known of a frame without a name. */
const offsetName = (module: string, offset: bigint | number): string => `[${module.replace(/^\[|\]$/g, '')}+${hex(offset)}]`;

/** One address, named: its frames (root first; more than one with inlined functions) and what the report needs. */
interface Resolved {
  readonly ids: readonly FrameId[];
  /** The module's gap counts when something is missing. */
  readonly gap: Gap | undefined;
  readonly unnamed: boolean;
  readonly noDebug: boolean;
}

/** A binary's frame table (from the on-disk cache or built in this run) and its frames' ids in this profile. */
interface BinaryNames {
  readonly table: FrameTable;
  readonly module: string;
  /** Frame ids by frame number, as the outermost frame (`user`) and as an inlined one. */
  readonly userIds: (FrameId | undefined)[];
  readonly inlineIds: (FrameId | undefined)[];
  readonly gap: Gap;
}


/**
 * Names addresses for one run. Holds the caches (kallsyms, binaries by file and build-id, each
 * process's resolved addresses) so a run pays for each binary and each address once.
 */
export class Symbolizer {
  readonly options: SymbolizeOptions;
  private readonly gaps = new GapCounter((gap) => this.prefetchPackage(gap));
  /** Package owners asked of the host, by path (in flight or answered). */
  private readonly owners = new Map<string, Promise<string | undefined>>();
  private keptOwners: Record<string, string> | undefined | null = null;
  private readonly warnings: string[] = [];
  private readonly binaries: Binaries;
  private readonly debuginfod: Debuginfod;
  private readonly cache: SymbolCache;
  private readonly demangledNames = new Map<string, string>();
  private kallsyms: Kallsyms | undefined | null = null;
  /** The vmlinux symbols from the on-disk cache, when valid for the running kernel (null: not looked for yet). */
  private kernelCopy: KernelSymbols | undefined | null = null;
  private kernelId: string | undefined;
  /** By sampled address, times two, plus one for a return address. */
  private readonly kernel = new Map<bigint, Resolved>();
  /** By kallsyms symbol number: one frame and one Resolved per kernel function (of the full table, and of the copy). */
  private kernelResolved: (Resolved | undefined)[] = [];
  private copyResolved: (Resolved | undefined)[] = [];
  private readonly names = new Map<Binary, BinaryNames>();
  private readonly processes = new Map<number, ProcessView>();
  private readonly opened: DwarfFile[] = [];
  private readonly jit: JitSymbolizer;
  /** Names stay as the symbol tables have them until `prepare` has loaded the demangler. */
  private demangler: Demangler = IDENTITY_DEMANGLER;

  /** Warmed binaries by mapped file (`dev inode`), null when unreadable; executable mappings by snapshot. */
  private readonly warmBinaries = new Map<string, Binary | null>();
  private readonly warmMappings = new WeakMap<ProcessSnapshot, Mapping[]>();

  constructor(
    readonly builder: ProfileBuilder,
    private snapshots: ReadonlyMap<number, ProcessSnapshot>,
    options: Partial<SymbolizeOptions> = {},
    /** `RunMetadata.startTime` of the recording, when known. */
    runStart?: string,
  ) {
    this.options = { ...DEFAULTS, ...options };
    const warn = (message: string): void => {
      this.warnings.push(message);
      this.options.warn(message);
    };
    this.binaries = new Binaries(this.options.host, { debugDirectories: this.options.debugDirectories, warn });
    this.cache = new SymbolCache(this.options.cacheDirectory, this.options.host);
    const host = this.options.host;
    this.debuginfod = new Debuginfod(this.options, (url, to, ms) => host.download(url, to, ms), (path) => host.exists(path), warn);
    this.jit = new JitSymbolizer(this.options, { warn, notBeforeMs: runStart === undefined ? undefined : Date.parse(runStart) });
  }

  /**
   * Work done ahead, while a recording still runs and its event loop waits between harvests: opens
   * the binaries `userStack` (leaf first) falls in, their DWARF and cached frame tables, and looks
   * its addresses up, so the pass after the recording finds them in the tables. Interns no frame
   * and counts nothing: the profile comes out as it would without it.
   */
  warm(snapshot: ProcessSnapshot, userStack: readonly bigint[]): void {
    let mappings = this.warmMappings.get(snapshot);
    if (!mappings) this.warmMappings.set(snapshot, (mappings = executableMappings(snapshot)));
    for (let i = 0; i < userStack.length; i++) {
      const address = userStack[i]!;
      const mapping = findMapping(mappings, address);
      if (!mapping || mapping.inode === 0 || !mapping.path.startsWith('/')) continue;
      const file = `${mapping.dev} ${mapping.inode}`;
      let binary = this.warmBinaries.get(file);
      if (binary === undefined) this.warmBinaries.set(file, (binary = this.binaries.get(snapshot.pid, snapshot, mapping.path) ?? null));
      // debuginfod may still bring this binary DWARF (prepare): its frames are looked up after that.
      if (!binary || (!binary.hasDwarf && this.debuginfod.enabled)) continue;
      const vaddr = binary.elf.vaddrOfOffset(fileOffset(mapping, address));
      if (vaddr === undefined) continue;
      this.record(binary, this.namesOf(binary, mappedPath(mapping)).table, i > 0 ? vaddr - 1 : vaddr);
    }
  }

  /** The recording's snapshots, once it has ended, for a symbolizer made (and warmed) before it had them. */
  adopt(snapshots: ReadonlyMap<number, ProcessSnapshot>): void {
    this.snapshots = snapshots;
    this.processes.clear();
  }

  /**
   * The asynchronous part, before `stack`: loads the demangler, reads every process's perf map
   * once more (JITs such as node write theirs late, often at exit) and maps JavaScript frames
   * through source maps.
   */
  async prepare(samples: Iterable<{ readonly pid: number; readonly userStack: readonly bigint[] }>): Promise<void> {
    this.demangler = await demanglerFor(this.options);
    this.jit.finish(this.snapshots);
    await Promise.all([this.jit.prepare(samples), this.fetchDebugInfo(samples)]);
  }

  /** Debug files from debuginfod for every sampled binary that has no DWARF, all at once. */
  private async fetchDebugInfo(samples: Iterable<{ readonly pid: number; readonly userStack: readonly bigint[] }>): Promise<void> {
    if (!this.debuginfod.enabled) return;
    const wanted = new Map<string, Binary>();
    for (const sample of samples) {
      const view = this.view(sample.pid);
      for (const address of sample.userStack) {
        const mapping = findMapping(view.mappings, address);
        if (!mapping || mapping.inode === 0 || !mapping.path.startsWith('/')) continue;
        const binary = this.binaryOf(view, mapping);
        if (binary?.buildId !== undefined && !binary.hasDwarf) wanted.set(binary.buildId, binary);
      }
    }
    await Promise.all(
      [...wanted].map(async ([buildId, binary]) => {
        const path = await this.debuginfod.fetch(buildId);
        if (path) this.binaries.attachDebugFile(binary, path, 'debuginfod');
      }),
    );
  }

  private binaryOf(view: ProcessView, mapping: Mapping): Binary | undefined {
    let binary = view.binaries.get(mapping.path);
    if (binary === undefined && !view.binaries.has(mapping.path)) {
      binary = this.binaries.get(view.pid, view.snapshot, mapping.path);
      view.binaries.set(mapping.path, binary);
    }
    return binary;
  }

  /** Root frames above a process's stacks (its container, when asked for). */
  rootFrames(pid: number): FrameId[] {
    if (!this.options.containerFrame) return [];
    const view = this.view(pid);
    if (!view.roots) {
      const frame = containerFrame(this.snapshots.get(pid)?.cgroup);
      view.roots = frame ? [this.builder.internFrame(frame)] : [];
    }
    return view.roots;
  }

  /** Releases what `prepare` holds (perf map descriptors, source-map parsers). */
  close(): void {
    this.cache.flush();
    this.keepKernelSymbols();
    this.jit.close();
    for (const dwarf of this.opened) dwarf.close();
    this.opened.length = 0;
    // After libdw, which reads through these descriptors: one leaked per binary per run otherwise.
    this.binaries.close();
  }

  /** Root-first frame ids of one sample (user part, then kernel part); counts its gaps. */
  stack(pid: number, userStack: readonly bigint[], kernelStack: readonly bigint[], weight: number): FrameId[] {
    const frames: FrameId[] = [];
    const gaps = this.gaps;
    gaps.begin(weight);
    let last = userStack.length - 1;
    const marker = last >= 0 ? readUnwindMarker(userStack[last]!) : undefined;
    if (marker) {
      // A walk that stopped early is not rooted at the process's first function: say so at its root.
      if (marker.stop !== 0) frames.push(this.truncationFrame(marker.stop));
      last--;
    }
    if (last >= 0) {
      const view = this.view(pid);
      for (let i = last; i >= 0; i--) {
        const address = userStack[i]!;
        const cache = i > 0 ? view.resolved : view.resolvedLeaves;
        let resolved = cache.get(address);
        if (resolved === undefined) {
          resolved = this.resolveUser(view, address, i > 0);
          // Most addresses are one named frame: kept as its id, with no objects for the collector to trace.
          cache.set(address, resolved.gap === undefined && resolved.ids.length === 1 ? resolved.ids[0]! : resolved);
        }
        if (typeof resolved === 'number') {
          frames.push(resolved);
          continue;
        }
        const ids = resolved.ids;
        for (let k = 0; k < ids.length; k++) frames.push(ids[k]!);
        if (resolved.gap) gaps.count(resolved.gap, resolved.unnamed, resolved.noDebug, weight);
      }
    }
    for (let i = kernelStack.length - 1; i >= 0; i--) {
      const resolved = this.resolveKernel(kernelStack[i]!, i > 0);
      const ids = resolved.ids;
      for (let k = 0; k < ids.length; k++) frames.push(ids[k]!);
      if (resolved.gap) gaps.count(resolved.gap, resolved.unnamed, resolved.noDebug, weight);
    }
    return frames;
  }

  private readonly truncationFrames = new Map<number, FrameId>();

  private truncationFrame(stop: number): FrameId {
    let id = this.truncationFrames.get(stop);
    if (id === undefined) {
      id = this.builder.internFrame({ name: `[stack truncated: ${STOP_NAMES[stop] ?? stop}]`, kind: 'user' });
      this.truncationFrames.set(stop, id);
    }
    return id;
  }

  /** What could not be named; asks dpkg (asynchronously, answers kept in the cache directory) for the packages to install. */
  report(): Promise<SymbolizeReport> {
    return this.gaps.finish(this.packageLookup(), this.warnings);
  }

  /**
   * The first modules with a gap have their packages looked up at once, in the background (dpkg -S
   * takes 0.1–0.3 s): the answers are usually there when the report is made.
   */
  private prefetchPackage(gap: Gap): void {
    // A few at once (each is a dpkg run); modules found later are asked together at the end.
    if (gap.path === undefined || this.owners.size >= 8) return;
    const lookup = this.packageLookup();
    if (this.keptOwners === null) this.keptOwners = lookup.load?.();
    if (this.keptOwners?.[gap.path] !== undefined) return;
    void this.ask([gap.path, otherUsrPath(gap.path)]);
  }

  /** One `packageOf` for the paths not asked yet; paths in flight are shared. */
  private ask(paths: readonly string[]): Promise<ReadonlyMap<string, string>> {
    const fresh = [...new Set(paths)].filter((p) => !this.owners.has(p));
    if (fresh.length > 0) {
      const answer = (async () => {
        try {
          return await this.options.host.packageOf(fresh);
        } catch {
          return new Map<string, string>();
        }
      })();
      for (const p of fresh) this.owners.set(p, answer.then((owners) => owners.get(p)));
    }
    return Promise.all(paths.map(async (p): Promise<[string, string | undefined]> => [p, await this.owners.get(p)])).then(
      (entries) => new Map(entries.filter((e): e is [string, string] => e[1] !== undefined)),
    );
  }

  private packageLookup(): PackageLookup {
    const host = this.options.host;
    const directory = this.options.cacheDirectory;
    const stamp = directory === undefined ? undefined : host.packageDatabaseStamp?.();
    const path = directory === undefined ? '' : `${directory}/packages.json`;
    return {
      packageOf: (paths) => this.ask(paths),
      load: () => {
        if (this.keptOwners !== null) return this.keptOwners ? { ...this.keptOwners } : undefined;
        if (stamp === undefined) return undefined;
        try {
          const data = JSON.parse(host.readFile(path)?.toString('utf8') ?? 'null') as { stamp?: string; owners?: Record<string, string> } | null;
          return data?.stamp === stamp && data.owners && typeof data.owners === 'object' ? { ...data.owners } : undefined;
        } catch {
          return undefined;
        }
      },
      save: (owners) => {
        if (stamp === undefined) return;
        try {
          host.writeFileAtomic(path, JSON.stringify({ stamp, owners }));
        } catch {
          // read-only cache: asked again next time
        }
      },
    };
  }

  private view(pid: number): ProcessView {
    let view = this.processes.get(pid);
    if (!view) {
      const snapshot = this.snapshots.get(pid);
      view = { pid, snapshot, mappings: executableMappings(snapshot), binaries: new Map(), resolved: new Map(), resolvedLeaves: new Map() };
      this.processes.set(pid, view);
    }
    return view;
  }

  /**
   * The cached vmlinux symbols, when the cache holds them for this kernel's build-id and the first
   * code symbol of /proc/kallsyms (a few KB read, not 5 MB) still sits where it did: KASLR moves
   * the image at every boot.
   */
  private kernelSymbols(): KernelSymbols | undefined {
    if (this.kernelCopy !== null) return this.kernelCopy;
    this.kernelCopy = undefined;
    const host = this.options.host;
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
        if (anchor === copy.anchor) this.kernelCopy = copy;
        break;
      }
      if (!head || head.length < size) break;
    }
    return this.kernelCopy;
  }

  /** After a run that read /proc/kallsyms without a valid copy: its vmlinux part, for the next run. */
  private keepKernelSymbols(): void {
    if (!this.kallsyms || this.kernelCopy || this.kernelId === undefined || this.options.cacheDirectory === undefined) return;
    const text = this.kallsyms.nameBlob();
    const anchor = kallsymsAnchor(text);
    if (anchor === undefined) return;
    const copy = KernelSymbols.of(this.kallsyms, anchor);
    if (copy.symbols.size >= 2) this.cache.writeFile(`kernel-${this.kernelId}.bin`, copy.serialize(this.kernelId));
  }

  private resolveKernel(address: bigint, isReturnAddress: boolean): Resolved {
    // A return address points after the call, and the call may be its function's last instruction.
    const target = isReturnAddress ? address - 1n : address;
    // Kept apart by kind: the same address can be one stack's leaf and another's return address
    // (after a call that ends a function, or an interrupted first instruction) and name two functions.
    const key = (address << 1n) | (isReturnAddress ? 1n : 0n);
    let resolved = this.kernel.get(key);
    if (resolved) return resolved;
    if (this.kallsyms === null) {
      const copy = this.kernelSymbols();
      const index = copy ? copy.symbols.indexOf(target) : -1;
      if (copy && copy.covers(index)) {
        resolved = this.copyResolved[index];
        if (!resolved) {
          const symbol = copy.symbols.symbol(index);
          resolved = { ids: [this.builder.internFrame({ name: symbol.name, kind: 'kernel', module: symbol.module })], gap: undefined, unnamed: false, noDebug: false };
          this.copyResolved[index] = resolved;
        }
        this.kernel.set(key, resolved);
        return resolved;
      }
      // A module, a BPF program, past the image or no valid copy: the whole of /proc/kallsyms.
      const text = this.options.host.kallsyms();
      this.kallsyms = text === undefined ? undefined : Kallsyms.parse(text);
      if (!this.kallsyms) this.warn('/proc/kallsyms: unreadable, or every address is 0 (kernel.kptr_restrict): kernel frames keep their addresses');
    }
    const index = this.kallsyms ? this.kallsyms.indexOf(target) : -1;
    if (index >= 0) {
      resolved = this.kernelResolved[index];
      if (!resolved) {
        const symbol = this.kallsyms!.symbol(index);
        resolved = { ids: [this.builder.internFrame({ name: symbol.name, kind: 'kernel', module: symbol.module })], gap: undefined, unnamed: false, noDebug: false };
        this.kernelResolved[index] = resolved;
      }
    } else {
      const id = this.builder.internFrame({ name: hex(address), kind: 'kernel', module: KERNEL_MODULE });
      resolved = { ids: [id], gap: this.gaps.gap(KERNEL_MODULE, undefined), unnamed: true, noDebug: false };
    }
    this.kernel.set(key, resolved);
    return resolved;
  }

  /**
   * A mapping for an address outside the captured executable mappings: any captured mapping (a
   * JIT region mapped without execute permission at capture), else the live process's mappings
   * now (a library loaded after the capture).
   */
  private laterMapping(view: ProcessView, address: bigint): Mapping | undefined {
    if (!view.snapshot) return undefined;
    view.all ??= [...view.snapshot.mappings].sort(byStart);
    const captured = findMapping(view.all, address);
    if (captured) return captured;
    if (view.live === undefined) {
      const live = this.options.host.liveMappings?.(view.pid, view.snapshot.comm, view.snapshot.startTicks);
      view.live = live ? [...live].sort(byStart) : null;
    }
    return view.live ? findMapping(view.live, address) : undefined;
  }

  /** A frame keeping what is known. Only a file's frames lack debug info: no package covers [anon] or [unknown]. */
  private unnamed(name: string, module: string, path: string | undefined): Resolved {
    return { ids: [this.builder.internFrame({ name, kind: 'user', module })], gap: this.gaps.gap(module, path), unnamed: true, noDebug: path !== undefined };
  }

  private resolveUser(view: ProcessView, address: bigint, isReturnAddress: boolean): Resolved {
    let mapping = findMapping(view.mappings, address);
    // JIT step: code in anonymous memory, or in memory mapped after the process was captured.
    if (!mapping || mapping.inode === 0 || !mapping.path.startsWith('/')) {
      const jit = this.jit.frameNow(view.pid, address);
      // A perf map is all a JIT offers: no debug package would add to it, so no gap to report.
      if (jit) return { ids: [this.builder.internFrame(jit)], gap: undefined, unnamed: false, noDebug: false };
    }
    mapping ??= this.laterMapping(view, address);
    // No mapping covers it: a garbage return address (a frame-pointer walk through code built
    // without frame pointers) or a process never captured. One frame for all of them, as perf does.
    if (!mapping) return this.unnamed('[unknown]', view.snapshot ? '[unknown]' : '[process not captured]', undefined);
    // The vDSO is no file, but the same image as ours: its symbols name clock_gettime and friends.
    const vdso = mapping.path === '[vdso]' ? this.binaries.vdso(Number(mapping.end - mapping.start)) : undefined;
    if (vdso) return this.resolveIn(vdso, undefined, Number(address - mapping.start), isReturnAddress);
    if (mapping.inode === 0 || !mapping.path.startsWith('/')) {
      const module = mapping.path === '' ? '[anon]' : mapping.path;
      return this.unnamed(offsetName(module, address - mapping.start), module, undefined);
    }
    const binary = this.binaryOf(view, mapping);
    const path = mappedPath(mapping);
    const offset = fileOffset(mapping, address);
    if (binary === undefined) return this.unnamed(offsetName(basename(path), offset), basename(path), path);
    return this.resolveIn(binary, path, offset, isReturnAddress);
  }

  /** An address in a binary, given as its file offset. */
  private resolveIn(binary: Binary, path: string | undefined, fileOffset: number, isReturnAddress: boolean): Resolved {
    const vaddr = binary.elf.vaddrOfOffset(fileOffset);
    if (vaddr === undefined) return this.unnamed(offsetName(binary.module, fileOffset), binary.module, path);
    const names = this.namesOf(binary, path);
    const table = names.table;
    let record = this.record(binary, table, isReturnAddress ? vaddr - 1 : vaddr);
    // A signal trampoline's return address is its first instruction, and the byte before it
    // (a nop that makes unwinders find its FDE at pc - 1) belongs to no symbol.
    if (isReturnAddress && table.recordLength(record) === 0) record = this.record(binary, table, vaddr);
    const length = table.recordLength(record);
    if (length === 0) {
      // Without a symbol, the function's start from the unwind tables: a stripped binary's samples group per function.
      const start = this.functionStartOf(binary, isReturnAddress ? vaddr - 1 : vaddr);
      return this.unnamed(offsetName(names.module, start ?? vaddr), names.module, names.gap.path);
    }
    const count = this.options.inline ? length : 1;
    const ids: FrameId[] = new Array<FrameId>(count);
    for (let k = 0; k < count; k++) ids[k] = this.frameId(names, table.recordFrame(record, k), k === 0);
    const noDebug = table.file(table.recordFrame(record, 0)) === null;
    return { ids, gap: noDebug ? names.gap : undefined, unnamed: false, noDebug };
  }

  private readonly unwindTables = new Map<Binary, UnwindTable | null>();

  /** The start of the function holding `vaddr` by the binary's unwind table (read once per binary). */
  private functionStartOf(binary: Binary, vaddr: number): number | undefined {
    let table = this.unwindTables.get(binary);
    if (table === undefined) {
      try {
        table = tableOfOpenBinary(binary.elf.source, { host: this.options.host, cacheDirectory: this.options.cacheDirectory }) ?? null;
      } catch (error) {
        this.warn(`${binary.elf.source.path}: unwind information unreadable (${(error as Error).message}); unnamed addresses keep their own offsets`);
        table = null;
      }
      this.unwindTables.set(binary, table);
    }
    return table ? functionStart(table, vaddr) : undefined;
  }

  private namesOf(binary: Binary, path: string | undefined): BinaryNames {
    let names = this.names.get(binary);
    if (!names) {
      names = {
        table: binary.buildId === undefined ? new FrameTable(binary.hasDwarf) : this.cache.table(binary.buildId, binary.hasDwarf),
        module: binary.module,
        userIds: [],
        inlineIds: [],
        gap: this.gaps.gap(binary.module, path),
      };
      this.names.set(binary, names);
    }
    return names;
  }

  /** The profile's id of a binary's frame: interned once per frame (and kind), not once per address. */
  private frameId(names: BinaryNames, frame: number, outermost: boolean): FrameId {
    const ids = outermost ? names.userIds : names.inlineIds;
    let id = ids[frame];
    if (id === undefined) {
      const table = names.table;
      const name = table.name(frame);
      const file = table.file(frame);
      const line = table.line(frame);
      // Built field by field: object spreads go through a slow generic copy (64k frames).
      const shown: { name: string; kind: 'user' | 'inline'; module: string; file?: string; line?: number } = {
        name: name === null ? '[inlined]' : this.display(table, frame, name),
        kind: outermost ? 'user' : 'inline',
        module: names.module,
      };
      if (file !== null) shown.file = file;
      if (line > 0) shown.line = line;
      id = this.builder.internFrame(shown);
      ids[frame] = id;
    }
    return id;
  }

  /** A name as shown: demangled once, and the result kept in the cache so the next run skips the demangler. */
  private display(table: FrameTable, frame: number, name: string): string {
    if (!this.options.demangle) return name;
    let shown = table.demangled(frame);
    if (shown === undefined) {
      shown = this.demangled(name);
      table.setDemangled(frame, shown);
    }
    return shown;
  }

  /** Many addresses share a function: each name goes through the WASM demangler once (100k addresses: −0.3 s). */
  private demangled(name: string): string {
    // C names (all of libc, the kernel's) need neither the demangler nor a map entry.
    if (!isMangled(name)) return name;
    let result = this.demangledNames.get(name);
    if (result === undefined) {
      result = this.demangler.demangle(name);
      this.demangledNames.set(name, result);
    }
    return result;
  }

  /**
   * The record of an address's frames, root first, inlined calls included (names still mangled):
   * from the cache, else the symbol table and DWARF (then added). Empty when nothing names it.
   */
  private record(binary: Binary, table: FrameTable, vaddr: number): number {
    const cached = table.find(vaddr);
    if (cached >= 0) return cached;
    const symbol = binary.symbols.lookup(vaddr);
    const source = this.dwarf(binary)?.frames(vaddr, true) ?? [];
    const name = symbol?.name ?? source[0]?.name;
    let frames: CachedFrame[];
    if (name === undefined) frames = [];
    else if (source.length === 0) frames = [[name, null, 0]];
    else frames = source.map((f, i): CachedFrame => [i === 0 ? name : (f.name ?? null), f.file ?? null, f.line ?? 0]);
    return table.add(vaddr, frames);
  }

  /** The DWARF of a binary (its debug file's, else its own), opened on first use. */
  private dwarf(binary: Binary): DwarfFile | undefined {
    if (!binary.hasDwarf) return undefined;
    if (binary.dwarfState === undefined) {
      const file = binary.debug && hasDebugLines(binary.debug.elf) ? binary.debug.elf : binary.elf;
      const dwarf = DwarfFile.open(file.source);
      if (!dwarf) this.warn(`${file.source.path}: DWARF unreadable (libdw.so.1 missing or the file is damaged); no file:line for ${binary.module}`);
      binary.dwarfState = dwarf ?? null;
      if (dwarf) this.opened.push(dwarf);
    }
    return (binary.dwarfState as DwarfFile | null) ?? undefined;
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.options.warn(message);
  }
}

/** The profile with a `symbolization` report in `metadata.extra` and one note per module with gaps. */
export interface SymbolizeResult {
  readonly profile: Profile;
  readonly report: SymbolizeReport;
}

/**
 * A symbolizer to `warm` while recording, then to hand to `symbolizeWithReport` with the same
 * options: `profile record` spends the recording's idle time on what naming would do after it.
 */
export function symbolizerForRecording(options: Partial<SymbolizeOptions> = {}): Symbolizer {
  return new Symbolizer(new ProfileBuilder(), new Map(), options, new Date().toISOString());
}

/**
 * `groupOf`, when given, puts each sample's thread in a group (ThreadInfo.group) so the profile can
 * be split by it afterwards (the agent's series per service).
 */
export async function symbolizeWithReport(
  raw: RawProfile,
  options: Partial<SymbolizeOptions> = {},
  warmed?: Symbolizer,
  groupOf?: (sample: RawSample) => string,
): Promise<SymbolizeResult> {
  const symbolizer = warmed ?? new Symbolizer(new ProfileBuilder(), raw.processes, options, raw.metadata.startTime);
  if (warmed) warmed.adopt(raw.processes);
  const builder = symbolizer.builder;
  const quality = new StackQualityCounter(raw.processes);
  try {
    await symbolizer.prepare(raw.samples);
    // One ThreadInfo object per thread: the builder recognises it without building a key per sample.
    const threads = new Map<number, ThreadInfo[]>();
    for (const sample of raw.samples) {
      const frames = symbolizer.stack(sample.pid, sample.userStack, sample.kernelStack, sample.count);
      quality.add(sample.pid, sample.userStack, sample.count);
      const roots = symbolizer.rootFrames(sample.pid);
      const group = groupOf?.(sample);
      let known = threads.get(sample.tid);
      let thread = known?.find((t) => t.pid === sample.pid && t.comm === sample.comm && t.group === group);
      if (!thread) {
        // A negative pid stands for folded exited processes (src/record/accumulator.ts): no pid or tid.
        thread = sample.pid < 0 ? { comm: sample.comm } : { comm: sample.comm, pid: sample.pid, tid: sample.tid };
        if (group !== undefined) thread = { ...thread, group };
        if (known) known.push(thread);
        else threads.set(sample.tid, (known = [thread]));
      }
      builder.addStack(roots.length > 0 ? [...roots, ...frames] : frames, sample.count, thread, true);
    }
  } finally {
    symbolizer.close();
  }
  const report = await symbolizer.report();
  const notes = reportLines(report);
  const metadata = {
    ...raw.metadata,
    notes: [...(raw.metadata.notes ?? []), ...notes],
    extra: { ...(raw.metadata.extra ?? {}), symbolization: report, stackQuality: quality.finish() },
  };
  return { profile: builder.build(metadata), report };
}

/** RawProfile → Profile. What could not be named is in `metadata.notes` and `metadata.extra.symbolization`. */
export async function symbolize(raw: RawProfile, options: Partial<SymbolizeOptions> = {}): Promise<Profile> {
  return (await symbolizeWithReport(raw, options)).profile;
}
