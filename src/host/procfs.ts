/**
 * Snapshots of live processes from /proc: memory map, identity, cgroup, and open descriptors on
 * the mapped binaries, so a process that exits before the recording ends can still be named.
 *
 * Runs during recording for every new process (hundreds a second on a fork-heavy host), so it is
 * cheap: two reads (maps, stat) into one reused buffer, the cgroup once per set of cgroups
 * (src/host/cgroups.ts), status only for a process in another PID namespace or without an
 * announcement, and one `open` per binary not seen before. Descriptors are shared by (device,
 * inode): a thousand short shell commands all mapping libc cost one descriptor for libc.
 *
 * Reference: proc(5), /proc/PID/maps and /proc/PID/map_files.
 */
import { isAscii } from 'node:buffer';
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import type { Mapping, ProcessAnnouncement, ProcessSnapshot } from '../profile/raw.js';
import { cgroupOf } from './cgroups.js';
import { closePerfMaps, identityOfStatus, openPerfMapFile, perfMapPath } from './files.js';

const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)\s*(.*)$/;

/** A line by the regular expression: for the lines the fast path below does not take. */
function parseMapsLineSlowly(line: string): Mapping | undefined {
  const m = MAPS_LINE.exec(line);
  if (!m) return undefined;
  return { start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perms: m[3]!, offset: BigInt(`0x${m[4]}`), dev: m[5]!, inode: Number(m[6]), path: m[7]! };
}

/**
 * Lower-case hex digits text[from, to) as a number, or -1 when there are none, more than 13 (a
 * number is exact below 2^53) or another character.
 */
function hexNumber(text: string, from: number, to: number): number {
  if (to <= from || to - from > 13) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (digit < 0) return -1;
    n = n * 16 + digit;
  }
  return n;
}

/** Decimal digits text[from, to) as a number, or -1 when there are none or another character. */
function decimalNumber(text: string, from: number, to: number): number {
  if (to <= from) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + c - 48;
  }
  return to - from <= 15 ? n : Number(text.slice(from, to));
}

/** Most file offsets are 0: one bigint for them all. */
const bigintOf = (n: number): bigint => (n === 0 ? 0n : BigInt(n));

/**
 * One maps line, `start-end perms offset major:minor inode   path`, by index arithmetic: the
 * regular expression and its bigints from strings cost about 1 µs a line, a quarter of a short
 * process's capture. Anything unusual (the vsyscall page above 2^53) goes to the regular expression.
 */
function parseMapsLine(text: string, from: number, to: number): Mapping | undefined {
  const dash = text.indexOf('-', from);
  const afterRange = text.indexOf(' ', from);
  if (dash < from || afterRange < 0 || dash > afterRange || afterRange + 6 >= to || text.charCodeAt(afterRange + 5) !== 32) return parseMapsLineSlowly(text.slice(from, to));
  const afterOffset = text.indexOf(' ', afterRange + 6);
  const afterDev = afterOffset < 0 ? -1 : text.indexOf(' ', afterOffset + 1);
  const colon = afterOffset < 0 ? -1 : text.indexOf(':', afterOffset + 1);
  if (afterDev < 0 || afterDev >= to || colon < 0 || colon > afterDev) return parseMapsLineSlowly(text.slice(from, to));
  let afterInode = text.indexOf(' ', afterDev + 1);
  if (afterInode < 0 || afterInode > to) afterInode = to;
  const start = hexNumber(text, from, dash);
  const end = hexNumber(text, dash + 1, afterRange);
  const offset = hexNumber(text, afterRange + 6, afterOffset);
  const inode = decimalNumber(text, afterDev + 1, afterInode);
  if (start < 0 || end < 0 || offset < 0 || inode < 0 || hexNumber(text, afterOffset + 1, colon) < 0 || hexNumber(text, colon + 1, afterDev) < 0) {
    return parseMapsLineSlowly(text.slice(from, to));
  }
  let pathAt = afterInode;
  while (pathAt < to && (text.charCodeAt(pathAt) === 32 || text.charCodeAt(pathAt) === 9)) pathAt++;
  return {
    start: bigintOf(start),
    end: bigintOf(end),
    perms: text.slice(afterRange + 1, afterRange + 5),
    offset: bigintOf(offset),
    dev: text.slice(afterOffset + 1, afterDev),
    inode,
    path: text.slice(pathAt, to),
  };
}

/** The lines of /proc/PID/maps; lines that do not parse are skipped. */
export function parseMaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  for (let from = 0; from < text.length; ) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    const mapping = parseMapsLine(text, from, to);
    if (mapping !== undefined) mappings.push(mapping);
    from = to + 1;
  }
  return mappings;
}

/** True for a mapping of a file that can hold code worth naming. */
export function isExecutableFile(mapping: Mapping): boolean {
  return mapping.perms[2] === 'x' && mapping.inode !== 0 && mapping.path.startsWith('/');
}

/**
 * More descriptors than this are not opened: the symbolizer then reads the binary by path, which
 * still works for every process whose files were not deleted. Keeps a system-wide recording on a
 * busy host well below the usual descriptor limits.
 */
const MAX_CACHED_FDS = 2048;

const fdsByFile = new Map<string, number>();

function openMappedFile(pid: number, mapping: Mapping): number | undefined {
  const key = `${mapping.dev}:${mapping.inode}`;
  const cached = fdsByFile.get(key);
  if (cached !== undefined) return cached;
  if (fdsByFile.size >= MAX_CACHED_FDS) return undefined;
  // map_files reaches the exact file mapped, even deleted or in another mount namespace; it
  // needs CAP_SYS_ADMIN, so the process's root is the fallback.
  const candidates = [
    `/proc/${pid}/map_files/${mapping.start.toString(16)}-${mapping.end.toString(16)}`,
    `/proc/${pid}/root${mapping.path.replace(/ \(deleted\)$/, '')}`,
  ];
  for (const path of candidates) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      continue;
    }
    try {
      const stat = fstatSync(fd);
      if (stat.isFile() && stat.ino === mapping.inode) {
        fdsByFile.set(key, fd);
        return fd;
      }
    } catch {
      // closed below
    }
    closeSync(fd);
  }
  return undefined;
}

/** Closes every descriptor opened by `captureProcess` (once symbolizing is done). */
export function closeCapturedFiles(): void {
  for (const fd of fdsByFile.values()) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
  fdsByFile.clear();
  closePerfMaps();
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** One buffer for every /proc read of a capture: a fresh one per file cost more than the read. */
const BUFFER_BYTES = 1 << 16;
let buffer = Buffer.allocUnsafe(BUFFER_BYTES);

/**
 * Reads a /proc file into `buffer`: its length, or -1 when it cannot be read (the process is
 * gone). A seq_file hands out at most a page per read(2) for files of many records (maps), so
 * those are read until read(2) says the end; `oneRecord` files (stat, status: the kernel
 * writes them whole, then copies what fits) are complete once a read does not fill the buffer.
 */
function readProc(path: string, oneRecord: boolean): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch {
    return -1;
  }
  try {
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n <= 0) return length;
      length += n;
      if (oneRecord && length < buffer.length) return length;
    }
  } catch {
    return -1;
  } finally {
    closeSync(fd);
  }
}

/** `buffer`'s first `length` bytes as text: latin1 (half the cost of utf8) when they are all ASCII. */
const bufferText = (length: number): string => buffer.toString(isAscii(buffer.subarray(0, length)) ? 'latin1' : 'utf8', 0, length);

/** comm and starttime from /proc/PID/stat's text in `buffer`; comm as its bytes are (status escapes some). */
function parseStat(length: number): { readonly comm: string; readonly startTicks: number | undefined } | undefined {
  const open = buffer.indexOf(0x28);
  const close = buffer.lastIndexOf(0x29, length - 1);
  if (open < 0 || open >= length || close < open) return undefined;
  // starttime is field 22, the 20th after the comm (fields 1 and 2): counted in bytes, no string made.
  let at = close + 2;
  for (let field = 3; field < 22 && at > 0; field++) at = buffer.indexOf(0x20, at) + 1;
  let ticks = 0;
  let digits = 0;
  for (; at > 0 && at < length && buffer[at]! >= 0x30 && buffer[at]! <= 0x39; at++, digits++) ticks = ticks * 10 + buffer[at]! - 0x30;
  return { comm: buffer.toString('utf8', open + 1, close), startTicks: digits > 0 && digits <= 15 ? ticks : undefined };
}

/** Uid and NSpid from /proc/PID/status. */
function readIdentity(pid: number): { readonly uid: number | undefined; readonly nsPids: number[] } | undefined {
  const length = readProc(`/proc/${pid}/status`, true);
  if (length < 0) return undefined;
  return identityOfStatus(buffer.toString('latin1', 0, length), pid);
}

/**
 * What the symbolizer will need about `pid`, read now; undefined when the process is gone, or
 * when `announced` says it started at another time than the process now under `pid`.
 *
 * Why the maps are the announced process's: /proc/PID/stat is read after /proc/PID/maps. The
 * announced process held `pid` before the read of maps (it was sampled under it); a pid is held by
 * one process at a time and never comes back to a process that let it go. So when stat, read
 * after maps, shows the announced start time, the announced process held `pid` all along, and
 * the maps were its. The start time the BPF side sends cannot replace that read: it says which
 * process was sampled, not which one the maps came from. (Without `announced`, the caller compares
 * `startTicks` with the sample key's the same way: src/record/generations.ts.)
 */
export function captureProcess(pid: number, _comm?: string, announced?: ProcessAnnouncement): ProcessSnapshot | undefined {
  const mapsLength = readProc(`/proc/${pid}/maps`, false);
  if (mapsLength < 0) return undefined;
  const mappings = parseMaps(bufferText(mapsLength));
  // The maps of a process with a hundred thousand mappings must not keep megabytes for the rest of the run.
  if (buffer.length > 16 * BUFFER_BYTES) buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  const statLength = readProc(`/proc/${pid}/stat`, true);
  const stat = statLength < 0 ? undefined : parseStat(statLength);
  if (stat === undefined || (announced !== undefined && stat.startTicks !== announced.startTicks)) return undefined;
  // uid and NSpid come with the announcement for a process of our PID namespace; status is read
  // for the others (their NSpid list) and for processes met in the counts without one.
  const identity = announced?.uid !== undefined && announced.pidNsLevel === 0 ? { uid: announced.uid, nsPids: [pid] } : readIdentity(pid);
  if (identity === undefined) return undefined;
  const fds = new Map<string, number>();
  for (const mapping of mappings) {
    if (!isExecutableFile(mapping) || fds.has(mapping.path)) continue;
    const fd = openMappedFile(pid, mapping);
    if (fd !== undefined) fds.set(mapping.path, fd);
  }
  // A JIT's perf map, opened while /proc/PID/root exists (src/symbolize/perfmap.ts reads it at the end).
  const { uid, nsPids } = identity;
  const nsPid = nsPids[nsPids.length - 1]!;
  const perfMap = uid !== undefined ? openPerfMapFile(pid, uid, nsPid) : undefined;
  if (perfMap !== undefined) fds.set(perfMapPath(nsPid), perfMap);
  return {
    pid,
    comm: stat.comm,
    mappings,
    nsPids,
    uid,
    cgroup: cgroupOf(pid, announced?.cgroupKey),
    startTicks: stat.startTicks,
    fds,
  };
}

/**
 * Field 22 of /proc/PID/stat, `starttime`: clock ticks since boot. The comm (field 2) may hold
 * spaces and parentheses, so fields are counted from the last ')'.
 */
export function processStartTicks(stat: string | undefined): number | undefined {
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[22 - 3]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

/**
 * Jiffies all CPUs spent idle (idle + iowait) and in all, from the first line of /proc/stat;
 * undefined when it cannot be read.
 */
export function cpuTimes(): { readonly idle: number; readonly total: number } | undefined {
  const line = read('/proc/stat')?.split('\n', 1)[0];
  if (!line?.startsWith('cpu ')) return undefined;
  const fields = line.slice(4).trim().split(/\s+/).map(Number);
  if (fields.length < 5 || fields.some((n) => !Number.isFinite(n))) return undefined;
  // user nice system idle iowait irq softirq steal guest guest_nice: guest time is in user already.
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { idle: fields[3]! + fields[4]!, total };
}

/** Whether process `pid` still exists (its /proc directory; a zombie counts until reaped). */
export function processExists(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** This process's /proc/self/status (its credentials and capability sets). */
export function ownStatus(): string {
  return readFileSync('/proc/self/status', 'utf8');
}
