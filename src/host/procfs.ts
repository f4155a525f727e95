/**
 * Snapshots of live processes from /proc: memory map, identity, cgroup, and open descriptors on
 * the mapped binaries, so a process that exits before the recording ends can still be named.
 *
 * Runs during recording for every new process, so it is cheap: two small reads plus the cgroup,
 * and one `open` per binary not seen before. Descriptors are shared by (device, inode): a
 * thousand short shell commands all mapping libc cost one descriptor for libc.
 *
 * Reference: proc(5), /proc/PID/maps and /proc/PID/map_files.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import type { Mapping, ProcessSnapshot } from '../profile/raw.js';
import { closePerfMaps, openPerfMapFile, perfMapPath, processCgroup } from './files.js';

const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)\s*(.*)$/;

/** The lines of /proc/PID/maps; lines that do not parse are skipped. */
export function parseMaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  for (const line of text.split('\n')) {
    const m = MAPS_LINE.exec(line);
    if (!m) continue;
    mappings.push({
      start: BigInt(`0x${m[1]}`),
      end: BigInt(`0x${m[2]}`),
      perms: m[3]!,
      offset: BigInt(`0x${m[4]}`),
      dev: m[5]!,
      inode: Number(m[6]),
      path: m[7]!,
    });
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

/** What the symbolizer will need about `pid`, read now; undefined when the process is gone. */
export function captureProcess(pid: number): ProcessSnapshot | undefined {
  const maps = read(`/proc/${pid}/maps`);
  const status = read(`/proc/${pid}/status`);
  if (maps === undefined || status === undefined) return undefined;
  const mappings = parseMaps(maps);
  // status escapes odd bytes in Name: (as \n, \\), comm holds them as they are: comm is read only
  // then, one read fewer for nearly every process of a fork-heavy host.
  const name = /^Name:\t(.*)$/m.exec(status)?.[1];
  const comm = name !== undefined && !name.includes('\\') ? name : (read(`/proc/${pid}/comm`)?.replace(/\n$/, '') ?? name ?? '');
  const uid = /^Uid:\s+(\d+)/m.exec(status);
  const nsPid = /^NSpid:\s+([\d\s]+)$/m.exec(status);
  const fds = new Map<string, number>();
  for (const mapping of mappings) {
    if (!isExecutableFile(mapping) || fds.has(mapping.path)) continue;
    const fd = openMappedFile(pid, mapping);
    if (fd !== undefined) fds.set(mapping.path, fd);
  }
  // A JIT's perf map, opened while /proc/PID/root exists (src/symbolize/perfmap.ts reads it at the end).
  const nsPids = nsPid ? nsPid[1]!.trim().split(/\s+/).map(Number) : [pid];
  const startTicks = processStartTicks(read(`/proc/${pid}/stat`));
  const perfMap = uid ? openPerfMapFile(pid, Number(uid[1]), nsPids[nsPids.length - 1]!) : undefined;
  if (perfMap !== undefined) fds.set(perfMapPath(nsPids[nsPids.length - 1]!), perfMap);
  return {
    pid,
    comm,
    mappings,
    nsPids,
    uid: uid ? Number(uid[1]) : undefined,
    cgroup: processCgroup(pid),
    startTicks,
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
