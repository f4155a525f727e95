/**
 * Reading files that a profiled process wrote (perf maps) or refers to (scripts, source maps),
 * through its own view of the file system (`/proc/PID/root`), so processes in containers work.
 *
 * A perf map names code in a process we may run as root: a file anyone could have written must
 * not decide what we show, so writers are checked the way perf does (owner is the process's user
 * or root, not writable by group or others).
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, readSync } from 'node:fs';

export type TrustedRead = { readonly ok: true; readonly text: string; readonly size: number; readonly mtimeMs: number } | { readonly ok: false; readonly reason: string; readonly missing?: boolean };

export interface TrustedReadOptions {
  /** Owners accepted besides root. */
  readonly uids: readonly number[];
  /** Larger files are refused (a perf map of a long-running JIT can reach tens of MB). */
  readonly maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

export type TrustedOpen = { readonly ok: true; readonly fd: number } | { readonly ok: false; readonly reason: string; readonly missing?: boolean };

/**
 * Opens `path` if it is a regular file owned by root or one of `uids` and not writable by group or
 * others. The checks are made on the opened descriptor, so the file cannot be swapped between check
 * and read; O_NOFOLLOW refuses a symlink planted in place of the file, O_NONBLOCK a FIFO.
 * Holding the descriptor keeps the file readable after its process and mount namespace are gone.
 */
export function openTrustedFile(path: string, options: TrustedReadOptions): TrustedOpen {
  // Most perf maps looked for do not exist (every process of a fork-heavy host is asked): an
  // lstat that says so without throwing costs a fraction of the failed open's error object.
  if (!mayExist(path)) return { ok: false, reason: 'not found', missing: true };
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'ENOTDIR') return { ok: false, reason: 'not found', missing: true };
    if (code === 'ELOOP') return { ok: false, reason: 'is a symbolic link' };
    return { ok: false, reason: `cannot open (${code ?? String(error)})` };
  }
  const refused = checkOwner(fd, options);
  if (refused !== undefined) {
    closeSync(fd);
    return { ok: false, reason: refused };
  }
  return { ok: true, fd };
}

/** False when `path` surely does not exist; other failures are left to the open, which names them. */
function mayExist(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
}

function checkOwner(fd: number, options: TrustedReadOptions): string | undefined {
  const stat = fstatSync(fd);
  if (!stat.isFile()) return 'not a regular file';
  if (stat.uid !== 0 && !options.uids.includes(stat.uid)) return `owned by uid ${stat.uid}, neither the process's user nor root`;
  if ((stat.mode & 0o022) !== 0) return `writable by ${(stat.mode & 0o002) !== 0 ? 'others' : 'its group'} (mode ${(stat.mode & 0o777).toString(8)})`;
  const max = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (stat.size > max) return `larger than ${max} bytes`;
  return undefined;
}

/** Reads a file opened by `openTrustedFile` from its start, checking its owner and mode again (chmod after open). */
export function readTrustedFd(fd: number, options: TrustedReadOptions): TrustedRead {
  let stat;
  try {
    const refused = checkOwner(fd, options);
    if (refused !== undefined) return { ok: false, reason: refused };
    stat = fstatSync(fd);
  } catch (error) {
    return { ok: false, reason: `cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  // The file can grow while a JIT appends: read what is there now, up to the limit.
  const max = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const buffer = Buffer.allocUnsafe(Math.min(max, stat.size + 65536));
  let length = 0;
  while (length < buffer.length) {
    const n = readSync(fd, buffer, length, buffer.length - length, length);
    if (n <= 0) break;
    length += n;
  }
  return { ok: true, text: buffer.toString('utf8', 0, length), size: length, mtimeMs: stat.mtimeMs };
}

/**
 * Reads a regular file of at most `maxBytes`, or undefined. For paths that untrusted text names
 * (a script path in a perf map, a sourceMappingURL): O_NONBLOCK and the regular-file check keep a
 * FIFO or a device from blocking or flooding the profiler.
 */
export function readRegularFile(path: string, maxBytes: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > maxBytes) return undefined;
    return readFileSync(fd, 'utf8');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** `openTrustedFile`, read, close. */
export function readTrustedFile(path: string, options: TrustedReadOptions): TrustedRead {
  const opened = openTrustedFile(path, options);
  if (!opened.ok) return opened;
  try {
    return readTrustedFd(opened.fd, options);
  } finally {
    closeSync(opened.fd);
  }
}

export function closeFile(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** Where a process writes its JIT perf map, as it sees its file system (NSPID: its innermost PID). */
export function perfMapPath(nsPid: number): string {
  return `/tmp/perf-${nsPid}.map`;
}

const heldPerfMaps = new Set<number>();

/**
 * Opens a live process's perf map through its root, ownership checked against `uid`, for process
 * capture: held until `closePerfMaps()`, the map can be read at the end of the run even after the
 * process and its container are gone. Undefined when there is none (yet) or it is refused.
 */
export function openPerfMapFile(pid: number, uid: number, nsPid: number): number | undefined {
  const opened = openTrustedFile(`/proc/${pid}/root${perfMapPath(nsPid)}`, { uids: [uid] });
  if (!opened.ok) return undefined;
  heldPerfMaps.add(opened.fd);
  return opened.fd;
}

export function closePerfMaps(): void {
  for (const fd of heldPerfMaps) closeFile(fd);
  heldPerfMaps.clear();
}

/** Whether a live process sees our file system (same mount namespace); undefined when it is gone. */
export function sharesMountNamespace(pid: number): boolean | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`) === readlinkSync('/proc/self/ns/mnt');
  } catch {
    return undefined;
  }
}

export interface ProcessIdentity {
  /** Real uid. */
  readonly uid: number;
  /** PIDs in nested PID namespaces, outermost (ours) first (`NSpid:`). */
  readonly nsPids: readonly number[];
}

/** The uid and namespace PIDs of a live process, from /proc/PID/status; undefined when it is gone. */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const identity = identityOfStatus(status, pid);
  return identity.uid === undefined ? undefined : { uid: identity.uid, nsPids: identity.nsPids };
}

/** Uid (undefined when the text has none) and NSpid (`[pid]` without the line) of /proc/`pid`/status's text. */
export function identityOfStatus(status: string, pid: number): { readonly uid: number | undefined; readonly nsPids: number[] } {
  const uid = /^Uid:\s+(\d+)/m.exec(status);
  const nsPid = /^NSpid:\s+([\d\s]+)$/m.exec(status);
  return { uid: uid ? Number(uid[1]) : undefined, nsPids: nsPid ? nsPid[1]!.trim().split(/\s+/).map(Number) : [pid] };
}
