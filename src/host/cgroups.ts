/**
 * The cgroup of a process (the service label of the agent's series, `--container`), read once per
 * set of cgroups rather than once per process.
 *
 * The BPF side announces each process with a key for its cgroups in every hierarchy
 * (bpf/profile.bpf.c, cgroup_key: a sum over its cgroups of a hash of each cgroup's id and
 * hierarchy number). Cgroup ids are not reused while the machine runs, so the /proc/PID/cgroup
 * answer of one process holds for every later process announced with the same key. The answer is
 * kept only when the key computed here from that answer (each cgroup's id is the inode number of
 * its directory) equals the announced one: a process that moved to another cgroup between its
 * announcement and the read, a hierarchy not mounted here, or a cgroup namespace leave it uncached,
 * and such processes are read each time. That also covers hybrid v1 hosts, whose v1 hierarchies
 * (pids, memory, name=systemd) are part of the key as much as the unified one.
 */
import { readFileSync, statSync } from 'node:fs';

const U64 = (1n << 64n) - 1n;

/** splitmix64's finalizer, as bpf/profile.bpf.c's mix64. */
function mix64(value: bigint): bigint {
  let x = value & U64;
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & U64;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & U64;
  return x ^ (x >> 31n);
}

/** One line of /proc/PID/cgroup: hierarchy number, its controllers (empty for v2), path. */
interface CgroupLine {
  readonly hierarchy: number;
  readonly controllers: string;
  readonly path: string;
}

function cgroupLines(text: string): CgroupLine[] {
  const lines: CgroupLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (m) lines.push({ hierarchy: Number(m[1]), controllers: m[2]!, path: m[3]! });
  }
  return lines;
}

/**
 * The label path in /proc/PID/cgroup's `text`: the unified (v2) path when it says more than `/`;
 * on a hybrid v1 host, where runtimes put containers in the v1 controllers and leave the v2 line
 * at `/`, the first v1 path that is not the root (pids, then any controller).
 */
export function cgroupOfText(text: string): string | undefined {
  const lines = cgroupLines(text);
  const v2 = lines.find((l) => l.hierarchy === 0 && l.controllers === '')?.path;
  if (v2 !== undefined && v2 !== '/') return v2;
  const v1 = lines.filter((l) => l.controllers !== '' && l.path !== '/');
  return (v1.find((l) => l.controllers.split(',').includes('pids')) ?? v1[0])?.path ?? v2;
}

function readCgroupFile(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'latin1');
  } catch {
    return undefined;
  }
}

/** The cgroup path of a live process (`cgroupOfText`), or undefined when it is gone. */
export function processCgroup(pid: number): string | undefined {
  const text = readCgroupFile(pid);
  return text === undefined ? undefined : cgroupOfText(text);
}

/** A cgroup file system mounted at its root: `options` its super options (v1: the controllers, name=), undefined for cgroup2. */
interface CgroupMount {
  readonly dir: string;
  readonly options?: readonly string[];
}

let mounts: CgroupMount[] | undefined;
let mountsReadAt = 0;
/** A hierarchy not mounted here is looked for again after this long, not on every process. */
const MOUNTS_TTL_MS = 10_000;

/** The cgroup mounts of /proc/self/mountinfo that show a whole hierarchy (mount root `/`). */
function readMounts(): CgroupMount[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const found: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined) continue;
    const fields = before.split(' ');
    const [fsType, , superOptions] = after.split(' ');
    if (fields[3] !== '/' || fields[4] === undefined) continue;
    // mountinfo escapes space, tab, newline and backslash as octal.
    const dir = fields[4].replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    if (fsType === 'cgroup2') found.push({ dir });
    else if (fsType === 'cgroup') found.push({ dir, options: (superOptions ?? '').split(',') });
  }
  return found;
}

function mountOf(line: CgroupLine): CgroupMount | undefined {
  const matches = (m: CgroupMount): boolean =>
    line.hierarchy === 0 ? m.options === undefined : m.options !== undefined && line.controllers.split(',').every((c) => m.options!.includes(c));
  const found = mounts?.find(matches);
  if (found !== undefined || (mounts !== undefined && Date.now() - mountsReadAt < MOUNTS_TTL_MS)) return found;
  mounts = readMounts();
  mountsReadAt = Date.now();
  return mounts.find(matches);
}

/**
 * The key bpf/profile.bpf.c's cgroup_key gives a process whose /proc/PID/cgroup is `text`, from
 * the inode numbers of the cgroup directories (a cgroup's id on 64-bit kernels); undefined when a
 * directory cannot be found (a hierarchy not mounted here, a cgroup since removed).
 */
export function cgroupKeyOfText(text: string): bigint | undefined {
  let key = 0n;
  const lines = cgroupLines(text);
  if (lines.length === 0) return undefined;
  for (const line of lines) {
    const mount = mountOf(line);
    if (mount === undefined) return undefined;
    let id: bigint;
    try {
      id = statSync(`${mount.dir}${line.path === '/' ? '' : line.path}`, { bigint: true }).ino;
    } catch {
      return undefined;
    }
    key = (key + mix64(mix64(id) + BigInt(line.hierarchy))) & U64;
  }
  return key === 0n ? 1n : key;
}

/** Distinct keys remembered; a host creating cgroups without end starts over when it is reached. */
const MAX_KEYS = 4096;

const pathByKey = new Map<bigint, { readonly path: string | undefined }>();

/** Reads of /proc/PID/cgroup made and saved, for measurements and tests. */
export const cgroupReads = { read: 0, cached: 0 };

/**
 * The cgroup path of live process `pid` (`cgroupOfText`) announced with `key` (0n or undefined:
 * none): read once per key.
 */
export function cgroupOf(pid: number, key: bigint | undefined): string | undefined {
  if (key) {
    const known = pathByKey.get(key);
    if (known !== undefined) {
      cgroupReads.cached++;
      return known.path;
    }
  }
  const text = readCgroupFile(pid);
  cgroupReads.read++;
  if (text === undefined) return undefined;
  const path = cgroupOfText(text);
  if (key && cgroupKeyOfText(text) === key) {
    if (pathByKey.size >= MAX_KEYS) pathByKey.clear();
    pathByKey.set(key, { path });
  }
  return path;
}
