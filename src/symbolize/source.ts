/**
 * What the symbolizer needs from the machine, as an interface: src/host implements it over /proc
 * and the file system; tests can hand in fixtures. Nothing else in src/symbolize touches the host.
 */
import type { Mapping, ProcessSnapshot } from '../profile/raw.js';

/** Random access to a file's bytes. */
export interface ByteSource {
  readonly size: number;
  /** Where it was opened from, for messages. */
  readonly path: string;
  /** Identity of the file (stat), when known: two mappings of one file share it. */
  readonly dev?: number;
  readonly inode?: number;
  /** An open descriptor on the file, for native decoders (libdw). */
  readonly fd?: number;
  /** Up to `length` bytes at `offset` (fewer at the end of the file). */
  read(offset: number, length: number): Buffer;
  close(): void;
}

export interface SymbolHost {
  /** The bytes of /proc/kallsyms, or undefined when unreadable. */
  kallsyms(): Buffer | string | undefined;
  /** The first `bytes` bytes of /proc/kallsyms (a few reads, not the whole file), for the kernel symbol cache's check. */
  kallsymsHead?(bytes: number): Buffer | undefined;
  /** /sys/kernel/notes (the running kernel's ELF notes: its build-id), or undefined. */
  kernelNotes?(): Buffer | undefined;
  /** A binary that `snapshot`'s process mapped at `path`: its captured descriptor, its root, then the path. */
  openMapped(pid: number, snapshot: ProcessSnapshot | undefined, path: string): ByteSource | undefined;
  /** A file by path (debug files). */
  openFile(path: string): ByteSource | undefined;
  /** HTTP GET into a file, atomically (debuginfod). */
  download(url: string, destination: string, timeoutMs: number): Promise<{ readonly ok: true } | { readonly ok: false; readonly missing: boolean; readonly reason: string }>;
  exists(path: string): boolean;
  /** A small file's bytes (caches), or undefined. */
  readFile(path: string): Buffer | undefined;
  /**
   * Writes through a temporary file and a rename, creating directories; throws on failure. Parts
   * (an iterable of byte arrays) are written one after another as they are produced.
   */
  writeFileAtomic(path: string, data: string | Uint8Array | Iterable<Uint8Array>): void;
  /**
   * The Debian packages owning `paths` (`dpkg -S`), for advice; paths no package owns are left
   * out. May answer asynchronously (a child process must not stop the event loop).
   */
  packageOf(paths: readonly string[]): ReadonlyMap<string, string> | Promise<ReadonlyMap<string, string>>;
  /** Changes whenever the package database changes (so answers of `packageOf` can be kept); undefined: do not keep them. */
  packageDatabaseStamp?(): string | undefined;
  /** The kernel's vDSO image as mapped into processes (the same for all of one ABI), or undefined. */
  vdso?(): { readonly source: ByteSource; readonly size: number } | undefined;
  /** The executable-or-not mappings of a live process now, when it is still the process that started at `startTicks` and runs as `comm` (addresses mapped after its snapshot). */
  liveMappings?(pid: number, comm: string | undefined, startTicks?: number): readonly Mapping[] | undefined;
}
