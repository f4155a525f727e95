/**
 * Puts unwind tables where the BPF walker finds them: each binary's rows once into the shared
 * `unwind_rows` array and its row index into `unwind_buckets` (never moved while placed), and
 * per process the executable mappings whose binary has rows, with the bias from its addresses to
 * the binary's virtual addresses. The kernel side is behind `UnwindTarget` (src/record/session.ts),
 * table building behind `Compile` (a worker thread, src/unwind/compiler.ts), so the recording's
 * event loop never waits for a table and this runs on fixtures too.
 *
 * Row space is one preallocated array rather than a map per binary: a host runs a few dozen
 * binaries at once, the largest (cc1, node) ~0.4 M rows, so a fixed array of a few million rows
 * (12 bytes each) holds them, costs no map-of-maps look-up per frame, and its size is known at
 * start. Space is given back: a binary whose last process is forgotten stays in place, idle, and
 * is revived without a write if it comes back; a binary that does not fit evicts idle ones
 * (src/unwind/space.ts: the free blocks, and which idle binary goes first). Why that never lets
 * the walker read another binary's rows through a live entry: docs/unwinding.md, "Row space".
 */
import { statSync } from 'node:fs';
import type { Mapping, ProcessSnapshot } from '../profile/raw.js';
import type { CompiledBinary, CompileFailure, TableRequest } from './compiler.js';
import { TableSpace, type TableSlot, type TableSpaceStats } from './space.js';

/** Most mappings with tables per process (bpf/profile.h UNWIND_MAX_MAPPINGS). */
export const MAX_MAPPINGS = 64;
/** The BPF row search takes 24 steps: a binary with more rows is walked with frame pointers. */
export const MAX_ROWS_PER_BINARY = 1 << 24;

export interface UnwindTarget {
  /** Rows the kernel's array holds. */
  readonly unwindRowCapacity: number;
  writeUnwindRows(first: number, rows: Uint8Array, count: number): void;
  /** Entries of the kernel's array of row-index buckets (src/unwind/rows.ts RowIndex). */
  readonly unwindBucketCapacity: number;
  writeUnwindBuckets(first: number, starts: Uint32Array): void;
  /**
   * False when the kernel's table of processes is full. Until `remapAfterNs` (CLOCK_MONOTONIC) the
   * walker does not ask for the process's memory map to be read again.
   */
  setProcessUnwind(tgid: number, startTime: number, mappings: readonly UnwindMappingEntry[], remapAfterNs: bigint): boolean;
  deleteProcessUnwind(tgid: number): void;
}

/** One executable mapping of a process whose binary has rows in `unwind_rows` (bpf/profile.h struct unwind_mapping). */
export interface UnwindMappingEntry {
  readonly start: bigint;
  readonly end: bigint;
  /** Address minus bias = the binary's virtual address. */
  readonly bias: bigint;
  readonly firstRow: number;
  readonly rowCount: number;
  /** The binary's row index in `unwind_buckets`: bucketCount + 1 entries from firstBucket. */
  readonly firstBucket: number;
  readonly bucketCount: number;
  readonly bucketBase: number;
  readonly bucketShift: number;
}

/** Builds one binary's table (on a worker thread when recording). */
export type Compile = (request: TableRequest) => Promise<CompiledBinary | CompileFailure>;

/**
 * A binary whose rows are in the kernel: where they are, not the rows themselves (node's are
 * 4.5 MB; the maps hold them).
 */
interface Placed extends TableSlot {
  readonly bucketCount: number;
  readonly bucketBase: number;
  readonly bucketShift: number;
  readonly segments: CompiledBinary['segments'];
}

/** Why a binary has no rows in the kernel. */
export type Unplaced = CompileFailure | 'row-space-full' | 'too-many-rows';

export interface LoaderStats extends TableSpaceStats {
  /** Binaries with rows in the kernel (idle ones, which no known process maps, included). */
  readonly binaries: number;
  readonly rowCapacity: number;
  /** Binaries that found no room at first and were placed once other binaries' space was given back. */
  readonly placedAfterWaiting: number;
  readonly processes: number;
  /** Binaries without rows, by path, and why. */
  readonly unplaced: ReadonlyMap<string, Unplaced>;
  /** Processes with more executable mappings than the walker takes (the rest use frame pointers). */
  readonly processesOverMappingLimit: number;
  /** Processes walked with frame pointers because the kernel's process table was full of live ones. */
  readonly processesWithoutRoom: number;
  /** Time from asking for a table to having it, summed, ms. */
  readonly tableMs: number;
  /** Requests from the walker to read a process's memory map again (a pc outside its mappings with tables), answered. */
  readonly remapsAnswered: number;
}

const DELETED = ' (deleted)';

/**
 * How soon after an answer a process may ask for its memory map to be read again: at once the
 * first time (a library loaded after the capture, as Python's extension modules are), then
 * after REMAP_MIN_MS, doubling each time nothing new turns up (JIT code asks on every sample)
 * up to REMAP_MAX_MS. An answer without news mostly costs no read of the map (the pc was in a
 * mapping known already), so the first waits are short: a library loaded a moment after such
 * an answer is not left without its table for long.
 */
const REMAP_MIN_MS = 100;
const REMAP_MAX_MS = 60_000;
/**
 * How often the loader may check its processes for exited ones (a stat each), when a binary does
 * not fit or, while one waits for room, when a process is captured: the recording forgets exited
 * processes when it folds them, which a short recording may never do.
 */
const SWEEP_MS = 1000;
const monotonicNs = (): bigint => process.hrtime.bigint();

/** Is `mapping` code from a file, or the vDSO (the same image in every process, with its own .eh_frame)? */
const isFileCode = (m: Mapping): boolean => m.perms.includes('x') && ((m.inode !== 0 && m.path.startsWith('/')) || m.path === '[vdso]');
const keyOf = (m: Mapping): string => `${m.dev} ${m.inode}`;
const cleanPath = (path: string): string => (path.endsWith(DELETED) ? path.slice(0, -DELETED.length) : path);

export class UnwindLoader {
  private readonly space: TableSpace;
  private readonly placed = new Map<string, Placed | Unplaced>();
  /** Binaries being compiled, by key. */
  private readonly inFlight = new Set<string>();
  private readonly flights = new Set<Promise<void>>();
  private readonly unplacedPaths = new Map<string, Unplaced>();
  /** Per binary, the known processes that map it; a binary absent here is mapped by none. */
  private readonly users = new Map<string, Set<number>>();
  /** Per process, the binaries it maps (the keys under which it is in `users`). */
  private readonly binariesOf = new Map<number, Set<string>>();
  /** Binaries placed ahead of any process (libc, the dynamic loader, the vDSO): never evicted. */
  private readonly pinned = new Set<string>();
  /** Binaries with users that found no room: what they need, and what was reclaimable when they did not fit. */
  private readonly waiting = new Map<string, { readonly rows: number; readonly buckets: number; readonly reclaimable: number }>();
  /** Processes known, by pid: the snapshot their entries come from. */
  private readonly live = new Map<number, { readonly snapshot: ProcessSnapshot; readonly start: number }>();
  private readonly processes = new Map<number, readonly UnwindMappingEntry[]>();
  /** Per process: ms it waits before its next remap request (absent: it may ask at once). */
  private readonly remapWait = new Map<number, number>();
  private remapsAnswered = 0;
  private overLimit = 0;
  private withoutRoom = 0;
  private tableMs = 0;
  private placedAfterWaiting = 0;
  private lastSweep = -Infinity;
  private stopped = false;

  constructor(
    private readonly target: UnwindTarget,
    private readonly compile: Compile,
    /** Is the process still running? Entries of exited ones make room in a full process table, their binaries in full row space. */
    private readonly alive: (pid: number) => boolean = () => true,
  ) {
    this.space = new TableSpace(target.unwindRowCapacity, target.unwindBucketCapacity, (key) => this.placed.delete(key));
  }

  /**
   * Gives `snapshot`'s process its tables: at once for binaries already placed, and again each
   * time one of its other binaries' tables arrives.
   */
  loadProcess(snapshot: ProcessSnapshot, startTime: number): void {
    const pid = snapshot.pid;
    if (this.waiting.size > 0) this.sweepExited();
    // A capture of a known pid is a new image (an exec): the kernel dropped its entry then, and a
    // remap answer for the old image may have written it again since.
    if (this.processes.delete(pid)) this.target.deleteProcessUnwind(pid);
    this.remapWait.delete(pid);
    const before = this.binariesOf.get(pid);
    this.binariesOf.delete(pid);
    this.load(snapshot, startTime);
    // The old image's binaries lose this user only now, so those the new image maps too stay.
    const after = this.binariesOf.get(pid);
    for (const key of before ?? []) if (!after?.has(key)) this.unuse(key, pid);
  }

  private load(snapshot: ProcessSnapshot, startTime: number): void {
    if (this.stopped) return;
    const pid = snapshot.pid;
    this.live.set(pid, { snapshot, start: startTime });
    let mapped = this.binariesOf.get(pid);
    if (!mapped) this.binariesOf.set(pid, (mapped = new Set()));
    for (const mapping of snapshot.mappings) {
      if (!isFileCode(mapping)) continue;
      const key = keyOf(mapping);
      if (!mapped.has(key)) {
        mapped.add(key);
        this.use(key, pid);
      }
      if (this.placed.has(key) || this.inFlight.has(key)) continue;
      this.requestFor(key, mapping, snapshot);
    }
    this.apply(pid);
  }

  /**
   * Places these binaries' tables ahead of the processes that will map them (libc and the dynamic
   * loader, which every process maps; the vDSO; a launched command's binary). They stay placed
   * whether processes map them or not.
   */
  preload(paths: readonly string[]): void {
    for (const path of paths) {
      let key: string;
      try {
        // The vDSO is no file: /proc/PID/maps shows it with device 00:00 and inode 0 in every process.
        const stat = path === '[vdso]' ? { dev: 0, ino: 0 } : statSync(path);
        key = `${mapsDevice(stat.dev)} ${stat.ino}`;
      } catch {
        continue;
      }
      this.pinned.add(key);
      this.space.revive(key);
      if (!this.placed.has(key) && !this.inFlight.has(key)) this.request(key, path, { path, paths: path === '[vdso]' ? [] : [path] });
    }
  }

  /** Resolves once no table is being built (tests; the end of a recording need not wait). */
  async idle(): Promise<void> {
    while (this.flights.size > 0) await Promise.all([...this.flights]);
  }

  /** No more loading: tables still being built are dropped when they arrive. */
  stop(): void {
    this.stopped = true;
  }

  /** `pid`'s process is gone (or its pid belongs to another process now): its binaries lose a user. */
  forgetProcess(pid: number): void {
    this.live.delete(pid);
    this.remapWait.delete(pid);
    // The entry goes before the binaries' space may: nothing points the walker at them after it.
    if (this.processes.delete(pid)) this.target.deleteProcessUnwind(pid);
    this.releaseBinaries(pid);
  }

  /**
   * The answer to the walker's request to read a process's memory map again: `snapshot` is the
   * map read again, `changed` when it holds executable files the one before did not. Those are
   * loaded, and the process may ask again after REMAP_MIN_MS; with nothing new (JIT code, or a
   * binary whose table is on its way) it waits twice as long as the last time.
   */
  remapped(snapshot: ProcessSnapshot, startTime: number, changed: boolean): void {
    const pid = snapshot.pid;
    if (this.stopped || !this.processes.has(pid)) return;
    this.remapsAnswered++;
    if (changed) {
      this.remapWait.set(pid, REMAP_MIN_MS);
      this.load(snapshot, startTime);
      return;
    }
    const wait = Math.min(REMAP_MAX_MS, 2 * (this.remapWait.get(pid) ?? REMAP_MIN_MS / 2));
    this.remapWait.set(pid, wait);
    this.target.setProcessUnwind(pid, startTime, this.processes.get(pid)!, monotonicNs() + BigInt(wait) * 1_000_000n);
  }

  stats(): LoaderStats {
    let binaries = 0;
    for (const placed of this.placed.values()) if (typeof placed === 'object') binaries++;
    return {
      ...this.space.stats(),
      binaries,
      rowCapacity: this.target.unwindRowCapacity,
      placedAfterWaiting: this.placedAfterWaiting,
      processes: this.processes.size,
      unplaced: this.unplacedPaths,
      processesOverMappingLimit: this.overLimit,
      processesWithoutRoom: this.withoutRoom,
      tableMs: this.tableMs,
      remapsAnswered: this.remapsAnswered,
    };
  }

  /** Asks for the table of `mapping`'s binary, read through `snapshot`'s process (its captured descriptor, else its root). */
  private requestFor(key: string, mapping: Mapping, snapshot: ProcessSnapshot): void {
    const path = cleanPath(mapping.path);
    this.request(key, path, { path, fd: snapshot.fds?.get(mapping.path), paths: path === '[vdso]' ? [] : [`/proc/${snapshot.pid}/root${path}`, path] });
  }

  private request(key: string, path: string, request: TableRequest): void {
    this.inFlight.add(key);
    const asked = performance.now();
    const flight = this.compile(request).then(
      (result) => this.arrived(key, path, result, asked),
      () => this.arrived(key, path, 'unreadable', asked),
    );
    this.flights.add(flight);
    void flight.finally(() => this.flights.delete(flight));
  }

  private arrived(key: string, path: string, result: CompiledBinary | CompileFailure, asked: number): void {
    this.tableMs += performance.now() - asked;
    this.inFlight.delete(key);
    // Every process that maps it is gone: its table is not written (it comes back from the disk cache if needed).
    if (this.stopped || !this.wanted(key)) return;
    const placed = this.place(key, path, result);
    if (placed === undefined) return;
    this.placed.set(key, placed);
    for (const pid of [...(this.users.get(key) ?? [])]) this.apply(pid);
  }

  /** Undefined when the binary's last process turned out gone while room was made for it. */
  private place(key: string, path: string, result: CompiledBinary | CompileFailure): Placed | Unplaced | undefined {
    let why: Unplaced | undefined;
    if (typeof result === 'string') why = result;
    else if (result.rowCount > MAX_ROWS_PER_BINARY) why = 'too-many-rows';
    if (why !== undefined || typeof result === 'string') {
      this.unplacedPaths.set(path, why!);
      return why!;
    }
    const rows = result.rowCount;
    const buckets = result.index.starts.length;
    let slot = this.space.take(rows, buckets);
    if (slot === undefined && this.sweepExited() > 0) {
      if (!this.wanted(key)) return undefined;
      slot = this.space.take(rows, buckets);
    }
    if (slot === undefined) {
      this.unplacedPaths.set(path, 'row-space-full');
      if (!this.pinned.has(key)) this.waiting.set(key, { rows, buckets, reclaimable: this.space.reclaimableRows });
      return 'row-space-full';
    }
    const { index } = result;
    const placed: Placed = {
      ...slot,
      bucketCount: buckets - 1,
      bucketBase: index.base,
      bucketShift: index.shift,
      segments: result.segments,
    };
    this.target.writeUnwindRows(placed.firstRow, result.rows, rows);
    this.target.writeUnwindBuckets(placed.firstBucket, index.starts);
    if (this.waiting.delete(key)) this.placedAfterWaiting++;
    this.unplacedPaths.delete(path);
    return placed;
  }

  /** Is the binary mapped by a known process, or pinned? */
  private wanted(key: string): boolean {
    return this.pinned.has(key) || this.users.has(key);
  }

  private use(key: string, pid: number): void {
    let users = this.users.get(key);
    if (!users) {
      this.users.set(key, (users = new Set()));
      // Back before its space went to another binary: its rows are still in place.
      this.space.revive(key);
    }
    users.add(pid);
  }

  private releaseBinaries(pid: number): void {
    const mapped = this.binariesOf.get(pid);
    this.binariesOf.delete(pid);
    for (const key of mapped ?? []) this.unuse(key, pid);
  }

  /** `pid` no longer maps the binary: with its last user it becomes idle, or, without rows, forgotten. */
  private unuse(key: string, pid: number): void {
    const users = this.users.get(key);
    if (!users?.delete(pid) || users.size > 0) return;
    this.users.delete(key);
    this.waiting.delete(key);
    if (this.pinned.has(key)) return;
    const placed = this.placed.get(key);
    if (typeof placed === 'object') {
      this.space.setIdle(key, placed);
      this.retryWaiting();
    } else if (placed !== undefined) {
      // A failure is not kept for a file no process maps: its inode may name another file later.
      this.placed.delete(key);
    }
  }

  /**
   * Asks again for the tables of binaries that found no room, now that more space is
   * reclaimable than when they did not fit (from the on-disk cache: node's in ~15 ms).
   */
  private retryWaiting(): void {
    if (this.stopped) return;
    const reclaimable = this.space.reclaimableRows;
    for (const [key, need] of this.waiting) {
      if (this.inFlight.has(key) || reclaimable <= need.reclaimable || reclaimable < need.rows) continue;
      const pid = this.users.get(key)?.values().next().value;
      const snapshot = pid === undefined ? undefined : this.live.get(pid)?.snapshot;
      const mapping = snapshot?.mappings.find((m) => isFileCode(m) && keyOf(m) === key);
      if (!snapshot || !mapping) continue;
      this.placed.delete(key);
      this.requestFor(key, mapping, snapshot);
    }
  }

  /** Forgets the known processes that have exited, at most once per SWEEP_MS; how many. */
  private sweepExited(): number {
    const now = performance.now();
    if (now - this.lastSweep < SWEEP_MS) return 0;
    this.lastSweep = now;
    let gone = 0;
    for (const pid of [...this.live.keys()]) {
      if (this.alive(pid)) continue;
      this.forgetProcess(pid);
      gone++;
    }
    return gone;
  }

  /** Tells the walker about `pid`'s mappings whose tables are placed. */
  private apply(pid: number): void {
    const known = this.live.get(pid);
    if (!known) return;
    const entries: UnwindMappingEntry[] = [];
    for (const mapping of known.snapshot.mappings) {
      if (!isFileCode(mapping)) continue;
      const placed = this.placed.get(keyOf(mapping));
      if (typeof placed !== 'object') continue;
      // The executable segment this mapping shows: bias = mapping address - the binary's vaddr.
      const size = mapping.end - mapping.start;
      const segment = placed.segments.find((s) => BigInt(s.offset) < mapping.offset + size && BigInt(s.offset + s.filesz) > mapping.offset);
      if (!segment) continue;
      const bias = mapping.start - mapping.offset + BigInt(segment.offset) - BigInt(segment.vaddr);
      entries.push({
        start: mapping.start,
        end: mapping.end,
        bias,
        firstRow: placed.firstRow,
        rowCount: placed.rowCount,
        firstBucket: placed.firstBucket,
        bucketCount: placed.bucketCount,
        bucketBase: placed.bucketBase,
        bucketShift: placed.bucketShift,
      });
    }
    entries.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    if (entries.length > MAX_MAPPINGS) {
      if (!this.processes.has(pid)) this.overLimit++;
      entries.length = MAX_MAPPINGS;
    }
    if (entries.length === 0 || sameEntries(entries, this.processes.get(pid))) return;
    const wait = this.remapWait.get(pid);
    const remapAfter = wait === undefined ? 0n : monotonicNs() + BigInt(wait) * 1_000_000n;
    if (!this.target.setProcessUnwind(pid, known.start, entries, remapAfter) && !(this.makeRoom() && this.target.setProcessUnwind(pid, known.start, entries, remapAfter))) {
      // Walked with frame pointers from now on: it holds no binary's space.
      this.withoutRoom++;
      this.forgetProcess(pid);
      return;
    }
    this.processes.set(pid, entries);
  }

  /**
   * Forgets the processes that have exited (a fork-heavy host starts thousands between two folds
   * of the recording, which are what forget them otherwise); true when any was.
   */
  private makeRoom(): boolean {
    let freed = 0;
    for (const pid of [...this.processes.keys()]) {
      if (this.alive(pid)) continue;
      this.forgetProcess(pid);
      freed++;
    }
    return freed > 0;
  }
}

function sameEntries(a: readonly UnwindMappingEntry[], b: readonly UnwindMappingEntry[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((e, i) => e.start === b[i]!.start && e.end === b[i]!.end && e.bias === b[i]!.bias && e.firstRow === b[i]!.firstRow && e.rowCount === b[i]!.rowCount && e.firstBucket === b[i]!.firstBucket);
}

/** A device number as /proc/PID/maps shows it (`%02x:%02x`, major:minor), the key's first half. */
export function mapsDevice(dev: number): string {
  const major = ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev & 0xff) | ((Math.floor(dev / 2 ** 12) & 0xfff00) >>> 0);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}
