/**
 * JIT symbols from perf maps: `/tmp/perf-PID.map`, one `START SIZE name` line per code object,
 * START and SIZE in hex, the name the rest of the line (spaces included). Written by node
 * (`--perf-basic-prof`), the JVM (perf-map-agent), .NET, LuaJIT and others.
 *
 * Reference: https://github.com/torvalds/linux/blob/master/tools/perf/Documentation/jit-interface.txt
 *
 * A JIT reuses freed code memory, so the file can hold several entries over the same addresses;
 * the later line describes the code that is there now and wins, as in perf.
 *
 * Life cycle, for whoever tracks processes (the recording session through the symbolizer):
 * call `PerfMaps.refresh(pid)` when a process is first seen, again when it exits, and once more
 * at the end of the run (`refreshAll()`), because node writes much of its map late, often at exit.
 * `lookup(pid, address)` then answers from the latest successful read.
 */
import { excerpt } from '../errors.js';
import { closeFile, openTrustedFile, processIdentity, readTrustedFd, type TrustedOpen, type TrustedRead, type TrustedReadOptions } from '../host/files.js';

export interface PerfMapSymbol {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  readonly name: string;
}

export interface ParsedPerfMap {
  readonly map: PerfMap;
  /** One line about every line that did not parse, or undefined when all did. */
  readonly warning?: string;
}

// perf parses with strtoull(…, 16), which also takes a `0x` prefix.
const LINE = /^(?:0x)?([0-9a-fA-F]{1,16}) (?:0x)?([0-9a-fA-F]{1,16}) (.*)$/;

/** Parses perf map text; `file` names it in the warning. Never throws on bad lines. */
export function parsePerfMap(text: string, file: string): ParsedPerfMap {
  const starts: number[] = [];
  const ends: number[] = [];
  const names: string[] = [];
  let bad = 0;
  let firstBad = 0;
  let firstBadText = '';
  let lineNumber = 0;
  let from = 0;
  while (from < text.length) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    let line = text.slice(from, to);
    from = to + 1;
    lineNumber++;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.length === 0) continue;
    const match = LINE.exec(line);
    const start = match ? parseInt(match[1]!, 16) : NaN;
    const size = match ? parseInt(match[2]!, 16) : NaN;
    const name = match ? match[3]!.trimEnd() : '';
    if (!match || name.length === 0 || !Number.isSafeInteger(start + size)) {
      if (bad++ === 0) {
        firstBad = lineNumber;
        firstBadText = line;
      }
      continue;
    }
    if (size === 0) continue; // nothing can be sampled inside it
    starts.push(start);
    ends.push(start + size);
    names.push(name);
  }
  const map = new PerfMap(starts, ends, names);
  if (bad === 0) return { map };
  const what = bad === 1 ? 'a line that is' : `${bad} lines that are`;
  return { map, warning: `${file}:${firstBad}: skipped ${what} not "START SIZE NAME" (first: ${excerpt(firstBadText)})` };
}

/** Address → symbol over non-overlapping ranges, later entries having won over earlier ones. */
export class PerfMap {
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private readonly names: string[];

  /** Entries in file order; overlaps are resolved here. */
  constructor(starts: readonly number[], ends: readonly number[], names: readonly string[]) {
    const resolved = resolveOverlaps(starts, ends);
    this.starts = Float64Array.from(resolved.map((r) => r.start));
    this.ends = Float64Array.from(resolved.map((r) => r.end));
    this.names = resolved.map((r) => names[r.entry]!);
  }

  get size(): number {
    return this.names.length;
  }

  /** Every symbol, in address order. */
  *symbols(): IterableIterator<PerfMapSymbol> {
    for (let i = 0; i < this.names.length; i++) yield { start: this.starts[i]!, end: this.ends[i]!, name: this.names[i]! };
  }

  lookup(address: number | bigint): PerfMapSymbol | undefined {
    const at = Number(address);
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= at) lo = mid + 1;
      else hi = mid - 1;
    }
    if (hi < 0 || at >= this.ends[hi]!) return undefined;
    return { start: this.starts[hi]!, end: this.ends[hi]!, name: this.names[hi]! };
  }
}

interface Piece {
  start: number;
  end: number;
  entry: number;
}

/**
 * Cuts the entries into pieces where, at every address, the entry with the highest index (the
 * latest line) is the one kept. A sweep over the sorted boundaries with a max-heap of the entries
 * open at each point: O(n log n), since a busy JIT's map has 10^5–10^6 lines.
 */
function resolveOverlaps(starts: readonly number[], ends: readonly number[]): Piece[] {
  const n = starts.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => starts[a]! - starts[b]! || a - b);
  // Fast path: no overlaps (the common case for maps that never reuse memory).
  let overlapping = false;
  for (let k = 1; k < n; k++) {
    if (starts[order[k]!]! < ends[order[k - 1]!]!) {
      overlapping = true;
      break;
    }
  }
  if (!overlapping) return order.map((i) => ({ start: starts[i]!, end: ends[i]!, entry: i }));

  const points = [...new Set([...starts, ...ends])].sort((a, b) => a - b);
  const heap: number[] = []; // entry indexes, largest on top
  const push = (v: number): void => {
    heap.push(v);
    for (let i = heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (heap[p]! >= heap[i]!) break;
      [heap[p], heap[i]] = [heap[i]!, heap[p]!];
      i = p;
    }
  };
  const pop = (): void => {
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < heap.length && heap[l]! > heap[top]!) top = l;
      if (r < heap.length && heap[r]! > heap[top]!) top = r;
      if (top === i) break;
      [heap[top], heap[i]] = [heap[i]!, heap[top]!];
      i = top;
    }
  };
  const pieces: Piece[] = [];
  let next = 0;
  for (let p = 0; p < points.length - 1; p++) {
    const at = points[p]!;
    while (next < n && starts[order[next]!]! <= at) push(order[next++]!);
    // Entries that ended are removed lazily, when they reach the top.
    while (heap.length > 0 && ends[heap[0]!]! <= at) pop();
    if (heap.length === 0) continue;
    const entry = heap[0]!;
    const end = points[p + 1]!;
    const last = pieces[pieces.length - 1];
    if (last !== undefined && last.entry === entry && last.end === at) last.end = end;
    else pieces.push({ start: at, end, entry });
  }
  return pieces;
}

/** How perf maps are read; replaced in tests and by hosts that read files differently. */
export interface PerfMapReader {
  /** Identity of a live process (uid, namespace PIDs), undefined once it is gone. */
  identity(pid: number): { readonly uid: number; readonly nsPids: readonly number[] } | undefined;
  open(path: string, options: TrustedReadOptions): TrustedOpen;
  read(fd: number, options: TrustedReadOptions): TrustedRead;
  close(fd: number): void;
}

export const HOST_READER: PerfMapReader = {
  identity: processIdentity,
  open: openTrustedFile,
  read: readTrustedFd,
  close: closeFile,
};

export interface PerfMapsOptions {
  /** Called once per file with a one-line warning (refused file, bad lines). */
  readonly warn?: (message: string) => void;
  readonly reader?: PerfMapReader;
}

/** The key of a perf map's descriptor in `ProcessSnapshot.fds`: its path as the process sees it. */
export function perfMapKey(nsPid: number): string {
  return `/tmp/perf-${nsPid}.map`;
}

/**
 * For process capture (src/host): opens a live process's perf map now, ownership checked, so that
 * it can be read at the end of the run even when the process and its container are gone. Store
 * the descriptor in `ProcessSnapshot.fds` under `key`; the capturer closes it after symbolizing.
 */
export function openPerfMap(pid: number, reader: PerfMapReader = HOST_READER): { readonly key: string; readonly fd: number } | undefined {
  const identity = reader.identity(pid);
  if (identity === undefined) return undefined;
  const key = perfMapKey(identity.nsPids[identity.nsPids.length - 1] ?? pid);
  const opened = reader.open(`/proc/${pid}/root${key}`, { uids: [identity.uid] });
  return opened.ok ? { key, fd: opened.fd } : undefined;
}

interface Tracked {
  readonly uid?: number;
  readonly nsPid: number;
  /** Held from first sight: the file stays readable after the process (and its container) is gone. */
  fd?: number;
  /** The descriptor belongs to a process snapshot, which closes it. */
  adopted?: boolean;
  map?: PerfMap;
  mtimeMs?: number;
  readSize?: number;
}

/** The perf maps of the processes of one run, read through each process's root. */
export class PerfMaps {
  private readonly tracked = new Map<number, Tracked>();
  private readonly warned = new Set<string>();
  private readonly reader: PerfMapReader;
  private readonly warn: (message: string) => void;

  constructor(options: PerfMapsOptions = {}) {
    this.reader = options.reader ?? HOST_READER;
    this.warn = options.warn ?? (() => undefined);
  }

  /**
   * Reads (again) the perf map of `pid`. `known` carries what a process snapshot already holds
   * (uid, NSpid list) for a process that may be gone by now. Returns whether a map is known.
   */
  refresh(pid: number, known: { readonly uid?: number; readonly nsPids?: readonly number[]; readonly fds?: ReadonlyMap<string, number> } = {}): boolean {
    let entry = this.tracked.get(pid);
    if (entry === undefined) {
      const identity = this.reader.identity(pid);
      const nsPids = known.nsPids ?? identity?.nsPids ?? [pid];
      // The map is named by the PID the process sees itself as: the innermost namespace's.
      entry = { uid: known.uid ?? identity?.uid, nsPid: nsPids[nsPids.length - 1] ?? pid };
      this.tracked.set(pid, entry);
    }
    const held = known.fds?.get(perfMapKey(entry.nsPid));
    if (entry.fd === undefined && held !== undefined) {
      entry.fd = held;
      entry.adopted = true;
    }
    // Without an owner to compare with, nothing can be trusted.
    if (entry.uid === undefined) return entry.map !== undefined;
    const options = { uids: [entry.uid] };
    const inside = `/tmp/perf-${entry.nsPid}.map`;
    const shown = entry.nsPid === pid ? inside : `/proc/${pid}/root${inside}`;
    if (entry.fd === undefined) {
      let opened = this.reader.open(`/proc/${pid}/root${inside}`, options);
      // A process that is gone has no root any more; in our own PID namespace its map is ours too.
      if (!opened.ok && opened.missing && entry.nsPid === pid && this.reader.identity(pid) === undefined) opened = this.reader.open(inside, options);
      if (!opened.ok) {
        if (!opened.missing) this.warnOnce(shown, `${shown}: perf map refused: ${opened.reason}`);
        return entry.map !== undefined;
      }
      entry.fd = opened.fd;
    }
    const result = this.reader.read(entry.fd, options);
    if (!result.ok) {
      this.warnOnce(shown, `${shown}: perf map refused: ${result.reason}`);
      return entry.map !== undefined;
    }
    if (entry.map !== undefined && result.mtimeMs === entry.mtimeMs && result.size === entry.readSize) return true;
    const parsed = parsePerfMap(result.text, shown);
    if (parsed.warning !== undefined) this.warnOnce(shown, parsed.warning);
    entry.map = parsed.map;
    entry.mtimeMs = result.mtimeMs;
    entry.readSize = result.size;
    return true;
  }

  /** Reads every tracked map once more (end of the run). */
  refreshAll(): void {
    for (const pid of this.tracked.keys()) this.refresh(pid);
  }

  lookup(pid: number, address: number | bigint): PerfMapSymbol | undefined {
    return this.tracked.get(pid)?.map?.lookup(address);
  }

  /** The latest map read for `pid`. */
  mapOf(pid: number): PerfMap | undefined {
    return this.tracked.get(pid)?.map;
  }

  /** The module name of this process's JIT frames. */
  static moduleName(pid: number): string {
    return `[perf-${pid}.map]`;
  }

  /** Releases the held files; lookups keep answering from what was read. */
  close(): void {
    for (const entry of this.tracked.values()) {
      if (entry.fd !== undefined && entry.adopted !== true) this.reader.close(entry.fd);
      entry.fd = undefined;
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warn(message);
  }
}
