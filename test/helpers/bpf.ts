/**
 * Finding kernel objects a recording left behind: BPF programs, links and maps (through
 * `bpftool … list -j`, which lists every object alive system-wide) and BPF/perf file descriptors
 * held by a surviving process (the profiled command could inherit them without O_CLOEXEC).
 *
 * Kernel ids only grow, so "created since" is `id > the largest id seen before`. Other tools may
 * create objects at the same time on a developer machine, so objects are attributed to us by the
 * names declared in bpf/profile.bpf.c (programs and maps); the kernel frees objects after the last
 * reference goes (RCU-deferred), so the check waits a little before calling anything a leak.
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
}

export function bpfObjects(): BpfObject[] {
  const objects: BpfObject[] = [];
  for (const kind of ['prog', 'link', 'map'] as const) {
    const list = JSON.parse(execFileSync('bpftool', [kind, 'list', '-j'], { encoding: 'utf8' }) || '[]') as { id: number; name?: string; type?: string; prog_id?: number }[];
    for (const o of list) objects.push({ kind, id: o.id, name: o.name ?? '', type: String(o.type ?? '') });
  }
  return objects;
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

/** Objects created since `mark` that are ours (by name; links have no name and count when new). */
export function createdSince(mark: BpfMark, names: Set<string> = ourBpfNames()): BpfObject[] {
  return bpfObjects().filter(
    (o) => o.id > mark.maxId[o.kind] && (o.kind === 'link' || names.size === 0 || names.has(o.name) || [...names].some((n) => n.startsWith('.') && o.name.endsWith(n))),
  );
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
