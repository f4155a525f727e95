/**
 * The Symbolizer: names the addresses of one run, or, lasting, of interval after interval (the
 * agent), in the steps index.ts lists. Holds what a run reads once: kallsyms, binaries, DWARF,
 * frame tables, perf maps.
 */
import { basename } from 'node:path';
import { ProfileBuilder } from '../profile/builder.js';
import type { FrameId, Profile, ThreadInfo } from '../profile/model.js';
import { byStart, findMapping, readUnwindMarker, type Mapping, type ProcessSnapshot, type RawProfile, type RawSample } from '../profile/raw.js';
import { STOP_NAMES } from '../unwind/walker.js';
import { Binaries, type Binary } from './binaries.js';
import { containerFrame } from './container.js';
import { demanglerFor } from './demangle.js';
import { demangleAhead } from './demangle-ahead.js';
import { JitSymbolizer } from './jit.js';
import { SymbolCache } from './symbol-cache.js';
import { Debuginfod } from './debuginfod.js';
import { BinaryFrames } from './binary-frames.js';
import { KernelNames } from './kernel-names.js';
import { executableMappings, fileOffset, jitSampledSnapshots, mappedInodes, mappedPath } from './mappings.js';
import { SYMBOLIZE_DEFAULTS, type SymbolizeOptions } from './options.js';
import { PackageOwners } from './packages.js';
import { hex, type Resolved } from './resolved.js';
import { GapCounter, type SymbolizeReport } from './report.js';

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
  /** Named addresses, apart for return addresses and leaves: an address is named as the one or the other. */
  readonly resolved: Map<bigint, Resolved | FrameId>;
  readonly leaves: Map<bigint, Resolved | FrameId>;
}

/** Binaries a lasting symbolizer keeps loaded while processes map them. */
const MAX_BINARIES = 256;
/** A lasting symbolizer writes the frame tables that gained addresses to the on-disk cache, and closes its DWARF, every so many runs (and at `close`). */
const FLUSH_EVERY_RUNS = 20;

/** `[libfoo.so+0x1a2b]`, `[vdso+0x9f0]`: what is known of a frame without a name. */
const offsetName = (module: string, offset: bigint | number): string => `[${module.replace(/^\[|\]$/g, '')}+${hex(offset)}]`;

/**
 * Names addresses for one run. Holds the caches (kallsyms, binaries by file and build-id, each
 * process's resolved addresses) so a run pays for each binary and each address once.
 */
export class Symbolizer {
  readonly options: SymbolizeOptions;
  private readonly packages: PackageOwners;
  gaps = new GapCounter((gap) => this.packages.prefetch(gap));
  private warnings: string[] = [];
  private readonly binaries: Binaries;
  private readonly debuginfod: Debuginfod;
  private readonly cache: SymbolCache;
  private readonly kernel: KernelNames;
  private readonly frames: BinaryFrames;
  private readonly processes = new Map<number, ProcessView>();
  /** Binaries of this run by mapped file (`dev inode`). */
  private readonly byFile = new Map<string, Binary>();
  private readonly jit: JitSymbolizer;

  /** Warmed binaries by mapped file (`dev inode`), null when unreadable; executable mappings by snapshot. */
  private readonly warmBinaries = new Map<string, Binary | null>();
  private readonly warmMappings = new WeakMap<ProcessSnapshot, Mapping[]>();

  /** Set by `lasting`: runs end with `runDone`, which keeps what `close` would release. */
  private lasting = false;
  private runs = 0;

  constructor(
    private currentBuilder: ProfileBuilder,
    private snapshots: ReadonlyMap<number, ProcessSnapshot>,
    options: Partial<SymbolizeOptions> = {},
    /** `RunMetadata.startTime` of the recording, when known. */
    runStart?: string,
  ) {
    this.options = { ...SYMBOLIZE_DEFAULTS, ...options };
    const warn = (message: string): void => {
      this.warnings.push(message);
      this.options.warn(message);
    };
    this.cache = new SymbolCache(this.options.cacheDirectory, this.options.host);
    const kept = { read: (name: string) => this.cache.readFile(name), write: (name: string, bytes: Uint8Array) => this.cache.writeFile(name, bytes) };
    this.binaries = new Binaries(this.options.host, { debugDirectories: this.options.debugDirectories, warn, kept });
    const host = this.options.host;
    this.packages = new PackageOwners(host, this.options.cacheDirectory);
    this.kernel = new KernelNames(this, host, this.cache, warn);
    this.frames = new BinaryFrames(this, this.options, this.cache, warn);
    this.debuginfod = new Debuginfod(this.options, (url, to, ms) => host.download(url, to, ms), (path) => host.exists(path), warn);
    this.jit = new JitSymbolizer(this.options, { warn, notBeforeMs: runStart === undefined ? undefined : Date.parse(runStart) });
  }

  /** Where this run's frames are interned. */
  get builder(): ProfileBuilder {
    return this.currentBuilder;
  }

  /**
   * A symbolizer for many profiles in turn (the agent's intervals): binaries, their symbol tables,
   * DWARF and frame tables, kallsyms and perf maps stay loaded from one run to the next, so a run
   * only reads what is new. Each run starts with `nextRun`; `close` at the very end.
   */
  static lasting(options: Partial<SymbolizeOptions> = {}): Symbolizer {
    const symbolizer = new Symbolizer(new ProfileBuilder(), new Map(), options, new Date().toISOString());
    symbolizer.lasting = true;
    return symbolizer;
  }

  /**
   * The next profile of a lasting symbolizer: what belonged to the last profile (frame ids, gap
   * counts, warnings, each process's resolved addresses) is dropped, and so are the binaries no
   * process in `snapshots` maps (beyond `maxBinaries`, those least recently used), with their
   * DWARF and frame tables, and the perf maps of processes no longer in `snapshots`.
   */
  nextRun(builder: ProfileBuilder, snapshots: ReadonlyMap<number, ProcessSnapshot>, maxBinaries = MAX_BINARIES): void {
    this.currentBuilder = builder;
    this.snapshots = snapshots;
    this.processes.clear();
    this.byFile.clear();
    this.truncationFrames.clear();
    this.gaps = new GapCounter((gap) => this.packages.prefetch(gap));
    this.warnings = [];
    this.kernel.nextRun();
    this.frames.nextRun();
    this.binaries.nextRun();
    this.binaries.evict(mappedInodes(snapshots), maxBinaries, (binary) => {
      this.frames.forget(binary);
      if (binary.buildId !== undefined) this.cache.forget(binary.buildId);
    });
    this.jit.keepOnly(snapshots);
  }

  /** What a lasting symbolizer holds: binaries, frame tables in memory, processes with perf maps. */
  held(): { readonly binaries: number; readonly frameTables: number; readonly perfMaps: number } {
    return { binaries: this.binaries.size, frameTables: this.cache.size, perfMaps: this.jit.tracked };
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
      this.frames.record(binary, this.frames.namesOf(binary, mappedPath(mapping)).table, i > 0 ? vaddr - 1 : vaddr);
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
    this.frames.demangler = await demanglerFor(this.options);
    // A lasting symbolizer reads again only the perf maps of the processes sampled in code of no
    // file: the thousands of short processes of a fork-heavy host's interval would each cost a few
    // system calls, and a perf map names nothing else.
    this.jit.finish(this.lasting ? jitSampledSnapshots(samples, this.snapshots) : this.snapshots);
    await Promise.all([this.jit.prepare(samples), this.fetchDebugInfo(samples)]);
    this.demangleAhead(samples);
  }

  /** Mangled names demangled on a worker thread while this one names the rest (demangle-ahead.ts). */
  private demangleAhead(samples: Iterable<{ readonly pid: number; readonly userStack: readonly bigint[] }>): void {
    if (!this.options.demangle || this.frames.ahead) return;
    const list = Array.isArray(samples) ? (samples as readonly { readonly pid: number; readonly userStack: readonly bigint[] }[]) : [...samples];
    this.frames.ahead = demangleAhead((step, visit) => this.newSymbolNames(list, step, visit));
  }

  /** The symbol's name (or undefined) of every `step`-th user address that its binary's frame table does not know. */
  private newSymbolNames(samples: readonly { readonly pid: number; readonly userStack: readonly bigint[] }[], step: number, visit: (name: string | undefined) => void): void {
    let k = 0;
    for (const sample of samples) {
      const stack = sample.userStack;
      if (stack.length === 0) continue;
      const view = this.view(sample.pid);
      for (let i = 0; i < stack.length; i++) {
        if (k++ % step !== 0) continue;
        const address = stack[i]!;
        const mapping = findMapping(view.mappings, address);
        if (!mapping || mapping.inode === 0 || !mapping.path.startsWith('/')) continue;
        const binary = this.binaryOf(view, mapping);
        const found = binary?.elf.vaddrOfOffset(fileOffset(mapping, address));
        if (binary === undefined || found === undefined) continue;
        const vaddr = i > 0 ? found - 1 : found;
        if (this.frames.namesOf(binary, mappedPath(mapping)).table.find(vaddr) < 0) visit(binary.symbols.lookup(vaddr)?.name);
      }
    }
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
      // The same file (device and inode) as another process's needs no open: a fork-heavy host's
      // thousands of short processes all map the same few binaries.
      const file = `${mapping.dev} ${mapping.inode}`;
      binary = this.byFile.get(file) ?? this.binaries.get(view.pid, view.snapshot, mapping.path);
      if (binary) this.byFile.set(file, binary);
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
      view.roots = frame ? [this.currentBuilder.internFrame(frame)] : [];
    }
    return view.roots;
  }

  /** The end of a run: a lasting symbolizer keeps what it holds (and writes the on-disk cache now and then), any other closes. */
  runDone(): void {
    if (!this.lasting) return this.close();
    this.frames.endAhead();
    if (++this.runs % FLUSH_EVERY_RUNS === 0) {
      this.cache.flush();
      // libdw's caches grow with every address looked up: now and then they start afresh (few
      // addresses are new after the first intervals, the frame tables know the rest).
      this.frames.closeDwarf();
    }
    this.kernel.keep(this.options.cacheDirectory);
  }

  /** Releases what `prepare` holds (perf map descriptors, source-map parsers). */
  close(): void {
    this.cache.close();
    this.kernel.keep(this.options.cacheDirectory);
    this.jit.close();
    this.frames.close();
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
        const named = i > 0 ? view.resolved : view.leaves;
        let resolved = named.get(address);
        if (resolved === undefined) {
          // Most addresses are one named frame: kept as its id, with no objects for the collector to trace.
          resolved = this.resolveUser(view, address, i > 0);
          named.set(address, resolved);
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
      const resolved = this.kernel.resolve(kernelStack[i]!, i > 0);
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
      id = this.currentBuilder.internFrame({ name: `[stack truncated: ${STOP_NAMES[stop] ?? stop}]`, kind: 'user' });
      this.truncationFrames.set(stop, id);
    }
    return id;
  }

  /** What could not be named; asks dpkg (asynchronously, answers kept in the cache directory) for the packages to install. */
  report(): Promise<SymbolizeReport> {
    return this.gaps.finish(this.packages.lookup(), this.warnings);
  }

  private view(pid: number): ProcessView {
    let view = this.processes.get(pid);
    if (!view) {
      const snapshot = this.snapshots.get(pid);
      view = { pid, snapshot, mappings: executableMappings(snapshot), binaries: new Map(), resolved: new Map(), leaves: new Map() };
      this.processes.set(pid, view);
    }
    return view;
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
    return { ids: [this.currentBuilder.internFrame({ name, kind: 'user', module })], gap: this.gaps.gap(module, path), unnamed: true, noDebug: path !== undefined };
  }

  private resolveUser(view: ProcessView, address: bigint, isReturnAddress: boolean): Resolved | FrameId {
    let mapping = findMapping(view.mappings, address);
    // JIT step: code in anonymous memory, or in memory mapped after the process was captured.
    if (!mapping || mapping.inode === 0 || !mapping.path.startsWith('/')) {
      const jit = this.jit.frameNow(view.pid, address);
      // A perf map is all a JIT offers: no debug package would add to it, so no gap to report.
      if (jit) return { ids: [this.currentBuilder.internFrame(jit)], gap: undefined, unnamed: false, noDebug: false };
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

  /** An address in a binary, given as its file offset: its frame's id when it is one frame with nothing to report. */
  private resolveIn(binary: Binary, path: string | undefined, fileOffset: number, isReturnAddress: boolean): Resolved | FrameId {
    const vaddr = binary.elf.vaddrOfOffset(fileOffset);
    if (vaddr === undefined) return this.unnamed(offsetName(binary.module, fileOffset), binary.module, path);
    const names = this.frames.namesOf(binary, path);
    const table = names.table;
    let record = this.frames.record(binary, table, isReturnAddress ? vaddr - 1 : vaddr);
    // A signal trampoline's return address is its first instruction, and the byte before it
    // (a nop that makes unwinders find its FDE at pc - 1) belongs to no symbol.
    if (isReturnAddress && table.recordLength(record) === 0) record = this.frames.record(binary, table, vaddr);
    const length = table.recordLength(record);
    if (length === 0) {
      // Without a symbol, the function's start from the unwind tables: a stripped binary's samples group per function.
      const start = this.frames.functionStartOf(binary, isReturnAddress ? vaddr - 1 : vaddr);
      return this.unnamed(offsetName(names.module, start ?? vaddr), names.module, names.gap.path);
    }
    const count = this.options.inline ? length : 1;
    if (count === 1) {
      // No array or object per address: the id itself, or one Resolved per frame of a binary without debug info.
      const frame = table.recordFrame(record, 0);
      const id = this.frames.frameId(names, frame, true);
      if (table.file(frame) !== null) return id;
      let resolved = names.withoutDebug[frame];
      if (!resolved) names.withoutDebug[frame] = resolved = { ids: [id], gap: names.gap, unnamed: false, noDebug: true };
      return resolved;
    }
    const ids: FrameId[] = new Array<FrameId>(count);
    for (let k = 0; k < count; k++) ids[k] = this.frames.frameId(names, table.recordFrame(record, k), k === 0);
    const noDebug = table.file(table.recordFrame(record, 0)) === null;
    return { ids, gap: noDebug ? names.gap : undefined, unnamed: false, noDebug };
  }

}
