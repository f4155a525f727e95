/**
 * Whether this process may record: loading BPF programs needs CAP_BPF (or CAP_SYS_ADMIN), and
 * system-wide perf events need CAP_PERFMON (or CAP_SYS_ADMIN) unless perf_event_paranoid allows.
 */
import { ownStatus } from '../host/procfs.js';

// include/uapi/linux/capability.h
export const CAP_SYS_ADMIN = 21;
export const CAP_PERFMON = 38;
export const CAP_BPF = 39;

/** The effective capability set of this process (CapEff in /proc/self/status). */
export function effectiveCapabilities(status = ownStatus()): bigint {
  const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return match ? BigInt(`0x${match[1]}`) : 0n;
}

export function hasCapability(caps: bigint, cap: number): boolean {
  return ((caps >> BigInt(cap)) & 1n) === 1n;
}

/** A sentence saying what is missing, or undefined when recording may work. */
export function missingPrivileges(caps = effectiveCapabilities()): string | undefined {
  const admin = hasCapability(caps, CAP_SYS_ADMIN);
  const bpf = admin || hasCapability(caps, CAP_BPF);
  const perfmon = admin || hasCapability(caps, CAP_PERFMON);
  if (bpf && perfmon) return undefined;
  const missing = [bpf ? '' : 'CAP_BPF', perfmon ? '' : 'CAP_PERFMON'].filter(Boolean).join(' and ');
  return `recording needs root or ${missing}: run it with sudo (sudo profile record …)`;
}
