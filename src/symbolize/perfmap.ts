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
import { closeFile, openTrustedFile, perfMapPath, processIdentity, readTrustedFd, type TrustedOpen, type TrustedRead, type TrustedReadOptions } from '../host/files.js';

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
  // Hand-parsed rather than by a regular expression: a busy JIT's map has millions of lines.
  while (from < text.length) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    const lineStart = from;
    let lineEnd = to;
    from = to + 1;
    lineNumber++;
    if (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    if (lineEnd === lineStart) continue;
    const space1 = text.indexOf(' ', lineStart);
    const space2 = space1 < 0 || space1 >= lineEnd ? -1 : text.indexOf(' ', space1 + 1);
    const start = space1 < 0 ? NaN : hex(text, lineStart, space1);
    const size = space2 < 0 || space2 >= lineEnd ? NaN : hex(text, space1 + 1, space2);
    const name = Number.isNaN(size) ? '' : text.slice(space2 + 1, lineEnd).trimEnd();
    if (name.length === 0 || !Number.isSafeInteger(start + size)) {
      // A last line without its newline is one the JIT is still writing: read again later.
      if (to === text.length) continue;
      if (bad++ === 0) {
        firstBad = lineNumber;
        firstBadText = text.slice(lineStart, lineEnd);
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

/**
 * The hex number in text[from, to), with an optional `0x` (perf reads it with strtoull(…, 16)),
 * at most 16 digits; NaN for anything else.
 */
function hex(text: string, from: number, to: number): number {
  if (to - from > 2 && text.charCodeAt(from) === 48 && (text.charCodeAt(from + 1) | 32) === 120) from += 2;
  if (to <= from || to - from > 16) return NaN;
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 48 && c <= 57 ? c - 48 : (c | 32) >= 97 && (c | 32) <= 102 ? (c | 32) - 87 : -1;
    if (digit < 0) return NaN;
    value = value * 16 + digit;
  }
  return value;
}

/** Address → symbol over non-overlapping ranges, later entries having won over earlier ones. */
export class PerfMap {
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private readonly names: string[];

  /** Entries in file order; overlaps are resolved here. */
  constructor(starts: readonly number[], ends: readonly number[], names: readonly string[]) {
    const resolved = resolveOverlaps(starts, ends);
    this.starts = resolved.starts;
    this.ends = resolved.ends;
    this.names = Array.from(resolved.entries, (entry) => names[entry]!);
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

interface Pieces {
  readonly starts: Float64Array;
  readonly ends: Float64Array;
  /** Index of the entry each piece belongs to. */
  readonly entries: Uint32Array;
}

/**
 * Cuts the entries into pieces where, at every address, the entry with the highest index (the
 * latest line) is the one kept. A sweep over the sorted boundaries with a max-heap of the entries
 * open at each point: O(n log n), since a busy JIT's map has 10^5–10^6 lines.
 */
function resolveOverlaps(starts: readonly number[], ends: readonly number[]): Pieces {
  const n = starts.length;
  // Typed arrays rather than one object per piece, which spent most of the time in GC; the index
  // sort stays a plain array's (V8 sorts those with a comparator twice as fast as typed arrays).
  const order = Uint32Array.from(
    Array.from({ length: n }, (_, i) => i).sort((a, b) => starts[a]! - starts[b]! || a - b),
  );
  let overlapping = false;
  for (let k = 1; k < n && !overlapping; k++) overlapping = starts[order[k]!]! < ends[order[k - 1]!]!;
  if (!overlapping) {
    return { starts: Float64Array.from(order, (i) => starts[i]!), ends: Float64Array.from(order, (i) => ends[i]!), entries: order };
  }

  const points = new Float64Array(2 * n);
  points.set(starts);
  points.set(ends, n);
  points.sort();
  const heap = new Uint32Array(n); // entry indexes, largest on top
  let heapSize = 0;
  const push = (v: number): void => {
    let i = heapSize++;
    heap[i] = v;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p]! >= heap[i]!) break;
      const swap = heap[p]!;
      heap[p] = heap[i]!;
      heap[i] = swap;
      i = p;
    }
  };
  const pop = (): void => {
    heap[0] = heap[--heapSize]!;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < heapSize && heap[l]! > heap[top]!) top = l;
      if (r < heapSize && heap[r]! > heap[top]!) top = r;
      if (top === i) break;
      const swap = heap[top]!;
      heap[top] = heap[i]!;
      heap[i] = swap;
      i = top;
    }
  };
  const outStarts: number[] = [];
  const outEnds: number[] = [];
  const outEntries: number[] = [];
  let next = 0;
  for (let p = 0; p < points.length - 1; p++) {
    const at = points[p]!;
    const end = points[p + 1]!;
    if (end === at) continue; // duplicate boundary
    while (next < n && starts[order[next]!]! <= at) push(order[next++]!);
    // Entries that ended are removed lazily, when they reach the top.
    while (heapSize > 0 && ends[heap[0]!]! <= at) pop();
    if (heapSize === 0) continue;
    const entry = heap[0]!;
    const last = outEntries.length - 1;
    if (last >= 0 && outEntries[last] === entry && outEnds[last] === at) outEnds[last] = end;
    else {
      outStarts.push(at);
      outEnds.push(end);
      outEntries.push(entry);
    }
  }
  return { starts: Float64Array.from(outStarts), ends: Float64Array.from(outEnds), entries: Uint32Array.from(outEntries) };
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
  /**
   * When the run started (ms since the epoch). A map found only after its process is gone must
   * have been written since then: PIDs are reused, and node never deletes its map, so /tmp may
   * hold an older process's map under the same name.
   */
  readonly notBeforeMs?: number;
}

/** The key of a perf map's descriptor in `ProcessSnapshot.fds`: its path as the process sees it. */
export const perfMapKey = perfMapPath;

/**
 * Opens a live process's perf map now, ownership checked, so that it can be read at the end of the
 * run even when the process and its container are gone; the caller closes the descriptor. Process
 * capture (src/host/procfs.ts) does the same with `openPerfMapFile` and keeps it in
 * `ProcessSnapshot.fds` under `key`.
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
  /** Opened on the host's /tmp after the process was gone. */
  gone?: boolean;
  /** Gone without a map: it will never have one, and is not looked for again. */
  settled?: boolean;
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
  private readonly notBeforeMs: number;

  constructor(options: PerfMapsOptions = {}) {
    this.reader = options.reader ?? HOST_READER;
    this.warn = options.warn ?? (() => undefined);
    this.notBeforeMs = options.notBeforeMs ?? -Infinity;
  }

  /**
   * Reads (again) the perf map of `pid`. `known` carries what a process snapshot already holds
   * (uid, NSpid list) for a process that may be gone by now. Returns whether a map is known.
   */
  refresh(pid: number, known: { readonly uid?: number; readonly nsPids?: readonly number[]; readonly fds?: ReadonlyMap<string, number> } = {}): boolean {
    let entry = this.tracked.get(pid);
    if (entry === undefined) {
      // A snapshot's uid and NSpid list make the read of /proc/PID/status (per process: thousands an interval on a fork-heavy host) unneeded.
      const identity = known.uid !== undefined && known.nsPids !== undefined ? undefined : this.reader.identity(pid);
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
    if (entry.uid === undefined || entry.settled === true) return entry.map !== undefined;
    const options = { uids: [entry.uid] };
    const inside = `/tmp/perf-${entry.nsPid}.map`;
    const shown = entry.nsPid === pid ? inside : `/proc/${pid}/root${inside}`;
    if (entry.fd === undefined) {
      let opened = this.reader.open(`/proc/${pid}/root${inside}`, options);
      let fromRoot = true;
      let gone: boolean | undefined;
      // A process that is gone has no root any more; in our own PID namespace its map is ours too.
      if (!opened.ok && opened.missing && entry.nsPid === pid && (gone = this.reader.identity(pid) === undefined)) {
        opened = this.reader.open(inside, options);
        fromRoot = false;
      }
      if (!opened.ok) {
        if (!opened.missing) this.warnOnce(shown, `${shown}: perf map refused: ${opened.reason}`);
        // A lasting symbolizer meets the thousands of short processes of a fork-heavy host's
        // interval again in the next one: those that are gone without a map are not looked for again.
        else if (gone ?? this.reader.identity(pid) === undefined) entry.settled = true;
        return entry.map !== undefined;
      }
      entry.fd = opened.fd;
      entry.gone = !fromRoot;
    }
    const result = this.reader.read(entry.fd, options);
    if (result.ok && entry.gone === true && result.mtimeMs < this.notBeforeMs) {
      this.warnOnce(shown, `${shown}: perf map not used: written before this run, by an earlier process with the same PID`);
      this.reader.close(entry.fd);
      entry.fd = undefined;
      return entry.map !== undefined;
    }
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

  /** Forgets a process (gone, or its pid now another process's): its descriptor closed unless a snapshot owns it. */
  forget(pid: number): void {
    const entry = this.tracked.get(pid);
    if (!entry) return;
    if (entry.fd !== undefined && entry.adopted !== true) this.reader.close(entry.fd);
    this.tracked.delete(pid);
  }

  /** Processes tracked. */
  get size(): number {
    return this.tracked.size;
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
