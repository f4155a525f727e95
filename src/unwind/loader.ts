/**
 * Puts unwind tables where the BPF walker finds them: each binary's rows once into the shared
 * `unwind_rows` array (first come, first placed; never moved while recording), and per process
 * the executable mappings whose binary has rows, with the bias from its addresses to the
 * binary's virtual addresses. The kernel side is behind `UnwindTarget` (src/record/session.ts),
 * the files behind `open`, so this runs on fixtures too.
 *
 * Row space is one preallocated array rather than a map per binary: a recording meets a few
 * dozen binaries, the largest (node) ~0.3 M rows, so a fixed array of a few million rows (12
 * bytes each) holds a whole host's, costs no map-of-maps look-up per frame, and its size is known
 * at start. When it is full, later binaries are walked with frame pointers, and counted.
 */
import { statSync } from 'node:fs';
import { ElfFile } from '../symbolize/elf/file.js';
import type { Mapping, ProcessSnapshot } from '../profile/raw.js';
import type { ByteSource } from '../symbolize/source.js';
import type { RowTable } from './walker.js';

/** Most mappings with tables per process (bpf/profile.h UNWIND_MAX_MAPPINGS). */
export const MAX_MAPPINGS = 64;
/** The BPF row search takes 24 steps: a binary with more rows is walked with frame pointers. */
export const MAX_ROWS_PER_BINARY = 1 << 24;
const PF_X = 1;

export interface UnwindTarget {
  /** Rows the kernel's array holds. */
  readonly unwindRowCapacity: number;
  writeUnwindRows(first: number, rows: Uint8Array, count: number): void;
  setProcessUnwind(tgid: number, startTime: number, mappings: readonly UnwindMappingEntry[]): void;
  deleteProcessUnwind(tgid: number): void;
}

export interface UnwindMappingEntry {
  readonly start: bigint;
  readonly end: bigint;
  readonly bias: bigint;
  readonly firstRow: number;
  readonly rowCount: number;
}

/** A binary's table, or undefined when it has no unwind information. */
export type TableFor = (source: ByteSource, elf: ElfFile) => RowTable | undefined;

export type OpenMapped = (pid: number, snapshot: ProcessSnapshot, path: string) => ByteSource | undefined;

interface Placed {
  readonly firstRow: number;
  readonly rowCount: number;
  readonly table: RowTable;
  /** The binary's executable segments: a mapping's bias comes from them without opening the file again. */
  readonly segments: readonly { readonly offset: number; readonly vaddr: number; readonly filesz: number }[];
}

/** Why a binary has no rows in the kernel. */
export type Unplaced = 'no-unwind-info' | 'unreadable' | 'row-space-full' | 'too-many-rows';

export interface LoaderStats {
  readonly binaries: number;
  readonly rows: number;
  readonly rowCapacity: number;
  readonly processes: number;
  /** Binaries without rows, by path, and why. */
  readonly unplaced: ReadonlyMap<string, Unplaced>;
  /** Processes with more executable mappings than the walker takes (the rest use frame pointers). */
  readonly processesOverMappingLimit: number;
  /** Time spent compiling or reading tables, ms. */
  readonly tableMs: number;
}

const DELETED = ' (deleted)';

/** Is `mapping` code from a file, or the vDSO (the same image in every process, with its own .eh_frame)? */
const isFileCode = (m: Mapping): boolean => m.perms.includes('x') && ((m.inode !== 0 && m.path.startsWith('/')) || m.path === '[vdso]');

export class UnwindLoader {
  private nextRow = 0;
  private readonly placed = new Map<string, Placed | Unplaced>();
  private readonly unplacedPaths = new Map<string, Unplaced>();
  private readonly processes = new Map<number, readonly UnwindMappingEntry[]>();
  private overLimit = 0;
  private tableMs = 0;
  /** Processes captured and waiting for their tables, by pid. */
  private readonly pending = new Map<number, { readonly snapshot: ProcessSnapshot; readonly start: number }>();
  private scheduled: NodeJS.Immediate | undefined;
  /** Binaries to place before any process asks for them. */
  private readonly preloads: { readonly path: string; readonly open: () => ByteSource | undefined }[] = [];

  constructor(
    private readonly target: UnwindTarget,
    private readonly open: OpenMapped,
    private readonly tableFor: TableFor,
  ) {}

  /**
   * Loads `snapshot`'s tables soon, one process per turn of the event loop: compiling a large
   * binary's table the first time takes a while (node's: ~0.5 s; then it comes from the cache),
   * and capturing other new processes before they exit must not wait for it.
   */
  enqueue(snapshot: ProcessSnapshot, startTime: number): void {
    // Binaries all placed already (libc, and whatever earlier processes mapped): nothing to read, no reason to wait.
    if (snapshot.mappings.every((m) => !isFileCode(m) || this.placed.has(`${m.dev} ${m.inode}`))) {
      this.loadProcess(snapshot, startTime);
      return;
    }
    this.pending.set(snapshot.pid, { snapshot, start: startTime });
    this.scheduled ??= setImmediate(() => this.loadNext());
  }

  /**
   * Places these binaries' tables ahead of the processes that will map them (libc and the dynamic
   * loader, which every process maps; a launched command's binary), so those processes' first
   * samples after their capture are walked by tables without waiting for a table to be read.
   */
  preload(files: readonly { readonly path: string; readonly open: () => ByteSource | undefined }[]): void {
    this.preloads.push(...files);
    this.scheduled ??= setImmediate(() => this.loadNext());
  }

  /** Drops what is still queued. */
  stop(): void {
    this.pending.clear();
    this.preloads.length = 0;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
  }

  private loadNext(): void {
    this.scheduled = undefined;
    const file = this.preloads.shift();
    if (file) {
      this.preloadOne(file.path, file.open);
      this.scheduled = setImmediate(() => this.loadNext());
      return;
    }
    const next = this.pending.entries().next();
    if (next.done) return;
    const [pid, { snapshot, start }] = next.value;
    this.pending.delete(pid);
    this.loadProcess(snapshot, start);
    if (this.pending.size > 0) this.scheduled = setImmediate(() => this.loadNext());
  }

  /** Loads the tables of `snapshot`'s binaries (once each) and tells the walker about its mappings. */
  loadProcess(snapshot: ProcessSnapshot, startTime: number): readonly UnwindMappingEntry[] {
    const entries: UnwindMappingEntry[] = [];
    for (const mapping of snapshot.mappings) {
      if (!isFileCode(mapping)) continue;
      const entry = this.entryFor(snapshot, mapping);
      if (entry) entries.push(entry);
    }
    entries.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    if (entries.length > MAX_MAPPINGS) {
      this.overLimit++;
      entries.length = MAX_MAPPINGS;
    }
    if (entries.length > 0) {
      this.target.setProcessUnwind(snapshot.pid, startTime, entries);
      this.processes.set(snapshot.pid, entries);
    }
    return entries;
  }

  /** `pid`'s process is gone (or its pid belongs to another process now). */
  forgetProcess(pid: number): void {
    this.pending.delete(pid);
    if (this.processes.delete(pid)) this.target.deleteProcessUnwind(pid);
  }

  /** The table of the binary mapped at `mapping` in `pid`, as placed in the kernel (for the reference walker). */
  tableOf(mapping: Mapping): RowTable | undefined {
    const placed = this.placed.get(`${mapping.dev} ${mapping.inode}`);
    return typeof placed === 'object' ? placed.table : undefined;
  }

  stats(): LoaderStats {
    let binaries = 0;
    for (const placed of this.placed.values()) if (typeof placed === 'object') binaries++;
    return {
      binaries,
      rows: this.nextRow,
      rowCapacity: this.target.unwindRowCapacity,
      processes: this.processes.size,
      unplaced: this.unplacedPaths,
      processesOverMappingLimit: this.overLimit,
      tableMs: this.tableMs,
    };
  }

  private entryFor(snapshot: ProcessSnapshot, mapping: Mapping): UnwindMappingEntry | undefined {
    const path = mapping.path.endsWith(DELETED) ? mapping.path.slice(0, -DELETED.length) : mapping.path;
    const key = `${mapping.dev} ${mapping.inode}`;
    let placed = this.placed.get(key);
    if (placed === undefined) {
      const source = this.open(snapshot.pid, snapshot, path);
      if (source === undefined) return void this.unplace(key, path, 'unreadable');
      try {
        placed = this.place(key, path, source, new ElfFile(source));
      } catch {
        return void this.unplace(key, path, 'unreadable');
      } finally {
        source.close();
      }
    }
    if (typeof placed !== 'object') return undefined;
    // The executable segment this mapping shows: bias = mapping address - the binary's vaddr.
    const size = mapping.end - mapping.start;
    const segment = placed.segments.find((s) => BigInt(s.offset) < mapping.offset + size && BigInt(s.offset + s.filesz) > mapping.offset);
    if (!segment) return undefined;
    const bias = mapping.start - mapping.offset + BigInt(segment.offset) - BigInt(segment.vaddr);
    return { start: mapping.start, end: mapping.end, bias, firstRow: placed.firstRow, rowCount: placed.rowCount };
  }

  private preloadOne(path: string, open: () => ByteSource | undefined): void {
    let key: string;
    try {
      // The vDSO is no file: /proc/PID/maps shows it with device 00:00 and inode 0 in every process.
      const stat = path === '[vdso]' ? { dev: 0, ino: 0 } : statSync(path);
      key = `${mapsDevice(stat.dev)} ${stat.ino}`;
    } catch {
      return;
    }
    if (this.placed.has(key)) return;
    const source = open();
    if (!source) return;
    try {
      this.place(key, path, source, new ElfFile(source));
    } catch {
      // The process that maps it will try again and count what fails.
    } finally {
      source.close();
    }
  }

  private place(key: string, path: string, source: ByteSource, elf: ElfFile): Placed | Unplaced {
    const started = performance.now();
    let table: RowTable | undefined;
    try {
      table = this.tableFor(source, elf);
    } finally {
      this.tableMs += performance.now() - started;
    }
    if (!table || table.rowCount === 0) return this.unplace(key, path, 'no-unwind-info');
    if (table.rowCount > MAX_ROWS_PER_BINARY) return this.unplace(key, path, 'too-many-rows');
    if (this.nextRow + table.rowCount > this.target.unwindRowCapacity) return this.unplace(key, path, 'row-space-full');
    const segments = elf.segments.filter((s) => (s.flags & PF_X) !== 0).map((s) => ({ offset: s.offset, vaddr: s.vaddr, filesz: s.filesz }));
    const placed: Placed = { firstRow: this.nextRow, rowCount: table.rowCount, table, segments };
    this.target.writeUnwindRows(placed.firstRow, table.rows, table.rowCount);
    this.nextRow += table.rowCount;
    this.placed.set(key, placed);
    return placed;
  }

  private unplace(key: string, path: string, why: Unplaced): Unplaced {
    this.placed.set(key, why);
    this.unplacedPaths.set(path, why);
    return why;
  }
}

/** A device number as /proc/PID/maps shows it (`%02x:%02x`, major:minor), the key's first half. */
export function mapsDevice(dev: number): string {
  const major = ((dev >>> 8) & 0xfff) | Math.floor(dev / 2 ** 32) & ~0xfff;
  const minor = (dev & 0xff) | ((Math.floor(dev / 2 ** 12) & 0xfff00) >>> 0);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}
