/**
 * Frames for JIT code: what the symbolizer asks about an address that lies in no file-backed
 * mapping. Perf maps give the name; for JavaScript, source maps then give the original file,
 * line and function. One instance per run.
 *
 * Hooks, in the order of a run: when a process is first seen, its capture opens the perf map
 * (`openPerfMap` in perfmap.ts, descriptor kept in `ProcessSnapshot.fds`) while `/proc/PID/root`
 * still exists — or `seen(pid)` does the same for a caller that keeps this object for the whole
 * run; `seen(pid)` again at its exit if the recorder knows it; `finish(processes)` at the end of
 * the run reads every map once more (node flushes most of its map late, often at exit); then
 * `frame(pid, address)` per address, and `close()`.
 */
import { sharesMountNamespace } from '../host/files.js';
import type { Frame } from '../profile/model.js';
import type { ProcessSnapshot } from '../profile/raw.js';
import { PerfMaps, type PerfMapReader } from './perfmap.js';
import { SourceMaps } from './sourcemap.js';

export interface JitOptions {
  /** Map JavaScript frames through source maps. Default true. */
  readonly sourceMaps: boolean;
}

export const JIT_DEFAULTS: JitOptions = Object.freeze({ sourceMaps: true });

export interface JitHooks {
  readonly warn?: (message: string) => void;
  readonly reader?: PerfMapReader;
  /** When the run started (ms since the epoch); see `PerfMapsOptions.notBeforeMs`. */
  readonly notBeforeMs?: number;
}

export class JitSymbolizer {
  private readonly perfMaps: PerfMaps;
  private readonly sourceMaps?: SourceMaps;
  private readonly frames = new Map<string, Promise<Frame | undefined>>();
  /** Frames resolved by `prepare`, for the synchronous `frameNow`. */
  private readonly ready = new Map<string, Frame>();
  private readonly roots = new Map<number, string>();
  /** Processes whose mount namespace was looked at (`roots` holds those read through their root). */
  private readonly placed = new Set<number>();
  /** The snapshot each pid stood for in the last run (`keepOnly`). */
  private readonly snapshots = new Map<number, ProcessSnapshot>();

  constructor(options: Partial<JitOptions> = {}, hooks: JitHooks = {}) {
    this.perfMaps = new PerfMaps({ warn: hooks.warn, reader: hooks.reader, notBeforeMs: hooks.notBeforeMs });
    if (options.sourceMaps ?? JIT_DEFAULTS.sourceMaps) this.sourceMaps = new SourceMaps({ warn: hooks.warn });
  }

  /** A process was seen (first, or at its exit): open or re-read its perf map. */
  seen(pid: number, snapshot?: Pick<ProcessSnapshot, 'uid' | 'nsPids' | 'fds'>): boolean {
    const nsPids = snapshot?.nsPids;
    // Scripts and source maps of a process in its own mount namespace are read through its root
    // (decided while it lives, once; a gone process in another PID namespace was surely contained).
    if (!this.placed.has(pid)) {
      this.placed.add(pid);
      const shared = sharesMountNamespace(pid);
      if (shared === false || (shared === undefined && nsPids !== undefined && nsPids.length > 1)) this.roots.set(pid, `/proc/${pid}/root`);
    }
    return this.perfMaps.refresh(pid, { uid: snapshot?.uid, nsPids, fds: snapshot?.fds });
  }

  /** End of the run: every process's perf map is read once more. */
  finish(processes: ReadonlyMap<number, Pick<ProcessSnapshot, 'uid' | 'nsPids' | 'fds'>> = new Map()): void {
    for (const [pid, snapshot] of processes) this.seen(pid, snapshot);
    this.perfMaps.refreshAll();
  }

  /**
   * For a long-lived symbolizer, before the next run: forgets the processes not in `processes`
   * and those whose pid another process took (another snapshot), so what it holds is bounded by
   * the live processes and nothing of an earlier process names a later one.
   */
  keepOnly(processes: ReadonlyMap<number, ProcessSnapshot>): void {
    for (const [pid, snapshot] of this.snapshots) {
      if (processes.get(pid) === snapshot) continue;
      this.snapshots.delete(pid);
      this.perfMaps.forget(pid);
      this.roots.delete(pid);
      this.placed.delete(pid);
      if (this.frames.size === 0 && this.ready.size === 0) continue;
      const prefix = `${pid}\0`;
      for (const key of this.frames.keys()) if (key.startsWith(prefix)) this.frames.delete(key);
      for (const key of this.ready.keys()) if (key.startsWith(prefix)) this.ready.delete(key);
    }
    for (const [pid, snapshot] of processes) if (!this.snapshots.has(pid)) this.snapshots.set(pid, snapshot);
  }

  /** Processes whose perf map is tracked. */
  get tracked(): number {
    return this.perfMaps.size;
  }

  /** The frame of a JIT address, or undefined when no perf map of `pid` covers it. */
  frame(pid: number, address: bigint | number): Promise<Frame | undefined> {
    const symbol = this.perfMaps.lookup(pid, address);
    if (symbol === undefined) return Promise.resolve(undefined);
    const key = `${pid}\0${symbol.name}`;
    let frame = this.frames.get(key);
    if (frame === undefined) {
      frame = this.resolve(pid, symbol.name);
      this.frames.set(key, frame);
    }
    return frame;
  }

  /**
   * Resolves (source maps are asynchronous) the frames of every user address of `samples` that a
   * perf map covers, so that `frameNow` can answer synchronously from the symbolizer's stack walk.
   */
  async prepare(samples: Iterable<{ readonly pid: number; readonly userStack: readonly bigint[] }>): Promise<void> {
    const pending: Promise<unknown>[] = [];
    const asked = new Set<string>();
    for (const sample of samples) {
      if (!this.perfMaps.mapOf(sample.pid)) continue;
      for (const address of sample.userStack) {
        const symbol = this.perfMaps.lookup(sample.pid, address);
        if (symbol === undefined) continue;
        const key = `${sample.pid}\0${symbol.name}`;
        if (asked.has(key)) continue;
        asked.add(key);
        pending.push(this.frame(sample.pid, address).then((frame) => frame && this.ready.set(key, frame)));
      }
    }
    await Promise.all(pending);
  }

  /** The frame of a JIT address from what `prepare` resolved; the perf map's own name otherwise. */
  frameNow(pid: number, address: bigint | number): Frame | undefined {
    const symbol = this.perfMaps.lookup(pid, address);
    if (symbol === undefined) return undefined;
    return this.ready.get(`${pid}\0${symbol.name}`) ?? { name: symbol.name, kind: 'jit', module: PerfMaps.moduleName(pid) };
  }

  close(): void {
    this.perfMaps.close();
    this.sourceMaps?.destroy();
  }

  private async resolve(pid: number, name: string): Promise<Frame> {
    const module = PerfMaps.moduleName(pid);
    const js = await this.sourceMaps?.frameFor(name, this.roots.get(pid) ?? '');
    if (js === undefined) return { name, kind: 'jit', module };
    return { name: js.name, kind: 'jit', module, file: js.file, line: js.line };
  }
}
