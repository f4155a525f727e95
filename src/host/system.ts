/**
 * What `profile doctor` asks of the machine: kernel settings, whether the kernel exposes BTF and
 * real symbol addresses, installed debug files and programs. Read here so that src/host stays the
 * one place that touches /proc, /sys and the file system.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readWhole } from './binary.js';

/** A sysctl under /proc/sys/kernel (`kptr_restrict`, `perf_event_paranoid`), or undefined when unreadable. */
export function kernelSetting(name: string): string | undefined {
  return readWhole(`/proc/sys/kernel/${name}`, 256)?.toString('utf8').trim();
}

/** The first `bytes` of /proc/kallsyms (enough to tell real addresses from zeros), or undefined when unreadable. */
export function kallsymsHead(bytes = 4096): string | undefined {
  return readWhole('/proc/kallsyms', bytes)?.toString('utf8');
}

export const KERNEL_BTF = '/sys/kernel/btf/vmlinux';

/** Whether the kernel describes its own types (BTF), which CO-RE programs need. */
export function hasKernelBtf(): boolean {
  return existsSync(KERNEL_BTF);
}

/** How many build-id directories /usr/lib/debug holds (installed separate debug files). */
export function debugBuildIdCount(): number {
  try {
    return readdirSync('/usr/lib/debug/.build-id').length;
  } catch {
    return 0; // none installed
  }
}

/** Whether `path` exists (a program, an installed package's directory, the BPF object). */
export function isPresent(path: string): boolean {
  return existsSync(path);
}
