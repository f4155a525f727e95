/**
 * Finding kernel objects a recording left behind: BPF programs, links and maps (through
 * `bpftool … list -j`, which lists every object alive system-wide) and BPF/perf file descriptors
 * held by a surviving process (the profiled command could inherit them without O_CLOEXEC).
 *
 * Kernel ids only grow, so "created since" is `id > the largest id seen before`. Other tests and
 * peers (another `profile record`, bpftrace, BCC) may create objects at the same time, with the
 * same names when they run this project, so objects are attributed by the process that holds
 * them: every descriptor of every process is looked at in /proc (`anon_inode:bpf-prog`,
 * `bpf-map`, `bpf_link`, whose fdinfo gives `prog_id`/`map_id`/`link_id` — what bpftool's `pids`
 * field shows when it is built with skeletons; Debian's 7.1 is not). An object is ours when a
 * holder is this process or one of its descendants (remembered once seen, so a leaking child
 * reparented to init still counts); an object nobody holds any more (pinned, or kept alive by
 * another object) is ours when it carries a name from bpf/profile.bpf.c. The kernel frees
 * objects after the last reference goes (RCU-deferred), so the check waits a little before
 * calling anything a leak.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export type BpfKind = 'prog' | 'link' | 'map';
export interface BpfObject {
  readonly kind: BpfKind;
  readonly id: number;
  readonly name: string;
  readonly type: string;
  /** Processes holding a descriptor on it (empty: held by none). */
  readonly pids: readonly number[];
}

const FDINFO_ID: Record<string, { kind: BpfKind; key: string }> = {
  'anon_inode:bpf-prog': { kind: 'prog', key: 'prog_id' },
  'anon_inode:bpf-map': { kind: 'map', key: 'map_id' },
  'anon_inode:bpf_link': { kind: 'link', key: 'link_id' },
};

/** `kind:id` → the pids holding a descriptor on that object, from every process's fd table. */
export function bpfHolders(): Map<string, number[]> {
  const holders = new Map<string, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        const what = FDINFO_ID[readlinkSync(`/proc/${pid}/fd/${fd}`)];
        if (!what) continue;
        const id = new RegExp(`^${what.key}:\\s*(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
        if (!id) continue;
        const key = `${what.kind}:${id[1]}`;
        const list = holders.get(key) ?? [];
        if (!list.includes(pid)) list.push(pid);
        holders.set(key, list);
      } catch {
        // closed while we looked
      }
    }
  }
  return holders;
}

/**
 * `bpftool KIND list -j`. Listing gets each object by id, and the kernel answers EAGAIN for a link
 * whose id is allocated but not yet set up (bpf_link_get_fd_by_id on a link still being attached
 * by another process): bpftool then exits 255 with "Resource temporarily unavailable". Seen when
 * the list ran while a recorder attached; a moment later the same call succeeds.
 */
function bpftoolList(kind: string): string {
  for (let attempt = 1; ; attempt++) {
    try {
      return execFileSync('bpftool', [kind, 'list', '-j'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      const output = `${(error as { stdout?: string }).stdout ?? ''}`;
      if (attempt >= 20 || !output.includes('Resource temporarily unavailable')) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
    }
  }
}

export function bpfObjects(): BpfObject[] {
  const objects: BpfObject[] = [];
  const holders = bpfHolders();
  for (const kind of ['prog', 'link', 'map'] as const) {
    const list = JSON.parse(bpftoolList(kind) || '[]') as { id: number; name?: string; type?: string; prog_id?: number }[];
    for (const o of list) objects.push({ kind, id: o.id, name: o.name ?? '', type: String(o.type ?? ''), pids: holders.get(`${kind}:${o.id}`) ?? [] });
  }
  return objects;
}

/** Pids seen as this process or its descendants; kept, so a reparented leaking child stays ours. */
const ourPids = new Set<number>([process.pid]);

function parentOf(pid: number): number | undefined {
  try {
    const match = /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is this process, a descendant, or was one when seen before. */
export function isOurProcess(pid: number): boolean {
  if (ourPids.has(pid)) return true;
  const chain: number[] = [];
  for (let p: number | undefined = pid; p !== undefined && p > 1 && chain.length < 64; p = parentOf(p)) {
    if (ourPids.has(p)) {
      for (const c of chain) ourPids.add(c);
      ourPids.add(pid);
      return true;
    }
    chain.push(p);
  }
  return false;
}

/** Counts `pid` as ours (a process this test started outside its own tree). */
export function claimProcess(pid: number): void {
  ourPids.add(pid);
}

export interface BpfMark {
  readonly maxId: Record<BpfKind, number>;
}

export function bpfMark(): BpfMark {
  const maxId: Record<BpfKind, number> = { prog: 0, link: 0, map: 0 };
  for (const o of bpfObjects()) maxId[o.kind] = Math.max(maxId[o.kind], o.id);
  return { maxId };
}

/** Program and map names declared in bpf/profile.bpf.c, as the kernel shows them (15 chars). */
export function ourBpfNames(): Set<string> {
  const names = new Set<string>();
  const source = join(ROOT, 'bpf', 'profile.bpf.c');
  if (!existsSync(source)) return names;
  const text = readFileSync(source, 'utf8');
  for (const m of text.matchAll(/SEC\("[^"]*"\)\s*(?:\n\s*)?int\s+(\w+)\s*\(/g)) names.add(m[1]!.slice(0, 15));
  for (const m of text.matchAll(/\}\s*(\w+)\s+SEC\("\.maps"\)/g)) names.add(m[1]!.slice(0, 15));
  // libbpf names global-data maps after the object: `<obj prefix>.rodata`, `.bss`, `.data`.
  for (const m of text.matchAll(/\bconst\s+volatile\b/g)) if (m) names.add('.rodata');
  return names;
}

function hasOurName(o: BpfObject, names: Set<string>): boolean {
  // Links have no name.
  return o.kind === 'link' || names.size === 0 || names.has(o.name) || [...names].some((n) => n.startsWith('.') && o.name.endsWith(n));
}

/**
 * Objects created since `mark` that are ours: held by this process or a descendant, or held by
 * no process and named as in bpf/profile.bpf.c. Objects another process holds are never ours.
 */
export function createdSince(mark: BpfMark, names: Set<string> = ourBpfNames()): BpfObject[] {
  return bpfObjects().filter((o) => o.id > mark.maxId[o.kind] && (o.pids.length === 0 ? hasOurName(o, names) : o.pids.some(isOurProcess)));
}

/** Waits up to `ms` for the kernel to free what is no longer referenced; returns what is left. */
export async function leakedSince(mark: BpfMark, ms = 3000, names?: Set<string>): Promise<BpfObject[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = createdSince(mark, names);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** BPF and perf-event descriptors open in process `pid` (empty when it is gone). */
export function kernelFds(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  let fds: string[];
  try {
    fds = readdirSync(dir);
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const fd of fds) {
    try {
      const target = readlinkSync(join(dir, fd));
      if (/anon_inode:(\[perf_event\]|bpf[-_]|\[bpf)/.test(target)) found.push(`${fd} -> ${target}`);
    } catch {
      // closed between readdir and readlink
    }
  }
  return found;
}

/** True when this process may load BPF programs (root with the BPF capabilities). */
export function canUseBpf(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('bpftool', ['prog', 'list', '-j'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Waits until a program of ours created since `mark` is loaded (a recorder is past its set-up). */
export async function waitForOurProgram(mark: BpfMark, ms = 15000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (createdSince(mark).some((o) => o.kind === 'prog')) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
