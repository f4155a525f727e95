/**
 * One software CPU-clock perf event per CPU, the sampling clock of the BPF program. Software
 * clock rather than hardware cycles: it works in VMs without a PMU and samples at a steady wall
 * rate, as BCC's and libbpf-tools' profile do.
 */
import { readFileSync } from 'node:fs';
import { ProfileError } from '../errors.js';
import type { LibBpf } from './libbpf.js';

// include/uapi/linux/perf_event.h
const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_CPU_CLOCK = 0;
const PERF_ATTR_SIZE = 128; // PERF_ATTR_SIZE_VER8; the kernel accepts any known size
const ATTR_FREQ = 1n << 10n;
const PERF_FLAG_FD_CLOEXEC = 8; // never leak an event into the profiled command

/** Online CPUs, from /sys/devices/system/cpu/online (`0-3,6`). */
export function onlineCpus(): number[] {
  const text = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  const cpus: number[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let cpu = a!; cpu <= (b ?? a)!; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** Opens a cpu-clock sampling event at `frequency` Hz on `cpu` for every task; returns its fd. */
export function openCpuClock(lib: LibBpf, cpu: number, frequency: number): number {
  const attr = new Uint8Array(PERF_ATTR_SIZE);
  const view = new DataView(attr.buffer);
  view.setUint32(0, PERF_TYPE_SOFTWARE, true);
  view.setUint32(4, PERF_ATTR_SIZE, true);
  view.setBigUint64(8, BigInt(PERF_COUNT_SW_CPU_CLOCK), true);
  view.setBigUint64(16, BigInt(frequency), true); // sample_freq (union with sample_period)
  view.setBigUint64(40, ATTR_FREQ, true);
  const fd = lib.perfEventOpen(attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) {
    const errno = lib.errno();
    throw new ProfileError(
      errno === 1 || errno === 13
        ? `perf_event_open on CPU ${cpu}: permission denied; run as root (or with CAP_PERFMON and CAP_BPF)`
        : errno === 22
          ? `perf_event_open on CPU ${cpu}: invalid argument; -F ${frequency} may exceed kernel.perf_event_max_sample_rate`
          : `perf_event_open on CPU ${cpu} failed (errno ${errno})`,
      { exitCode: 1 },
    );
  }
  return fd;
}
