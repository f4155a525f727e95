/**
 * What a recording hands to the symbolizer: addresses, not names, plus what was captured about
 * each process while it was alive (its memory map and open handles on its binaries), because a
 * process that exits during the run takes `/proc/PID/maps` with it.
 */
import type { RunMetadata } from './model.js';

export interface RawSample {
  /**
   * Thread-group id (the process). Negative: samples of exited processes folded together to bound
   * a long recording's memory; their user addresses are in the snapshot of that (negative) pid.
   */
  readonly pid: number;
  readonly tid: number;
  readonly comm: string;
  /** Kernel return addresses, leaf first (as bpf_get_stackid stores them); empty when not captured. */
  readonly kernelStack: readonly bigint[];
  /**
   * User return addresses, leaf first; empty when not captured. A stack walked with unwind tables
   * ends (root-most) with an `unwindMarker` saying how the walk went.
   */
  readonly userStack: readonly bigint[];
  readonly count: number;
}

/** One line of /proc/PID/maps. */
export interface Mapping {
  readonly start: bigint;
  readonly end: bigint;
  /** File offset of `start`. */
  readonly offset: bigint;
  readonly perms: string;
  /** `dev` as major:minor hex, as in maps. */
  readonly dev: string;
  readonly inode: number;
  /** Path, `[vdso]`, `[heap]`, `[anon:…]`, or empty for anonymous memory. May end in ` (deleted)`. */
  readonly path: string;
}

export interface ProcessSnapshot {
  readonly pid: number;
  readonly comm: string;
  readonly mappings: readonly Mapping[];
  /** PIDs of this process in nested PID namespaces, outermost first (from `NSpid:` in status). */
  readonly nsPids?: readonly number[];
  readonly uid?: number;
  readonly cgroup?: string;
  /**
   * When the process started, in clock ticks since boot (/proc/PID/stat's starttime): with the
   * pid, it tells this process from a later one that reuses its pid.
   */
  readonly startTicks?: number;
  /** When the snapshot was taken, ms since the recording started. */
  readonly capturedAtMs?: number;
  /** Mapping path → an open file descriptor on it, taken while the process was alive. */
  readonly fds?: ReadonlyMap<string, number>;
}

/** A new process's identity as the BPF side announces it (bpf/profile.h, struct seen_event: its group leader's). */
export interface AnnouncedIdentity {
  /** Real uid. */
  readonly uid: number;
  /** Depth of its PID namespace: 0 when it is the recorder's (its NSpid is its pid alone). */
  readonly pidNsLevel: number;
  /** Its cgroups in every hierarchy as one number (src/host/cgroups.ts); 0n: unknown. */
  readonly cgroupKey: bigint;
}

/**
 * What the recorder knows of a process before capturing it: its start time (from the sample key),
 * and with an announcement its identity, so that the capture reads less of /proc.
 */
export interface ProcessAnnouncement extends Partial<AnnouncedIdentity> {
  /** Clock ticks since boot, as /proc/PID/stat's starttime. */
  readonly startTicks: number;
}

export interface RawProfile {
  readonly samples: readonly RawSample[];
  /** By pid. A sampled pid with no snapshot could not be captured (it is counted, never guessed). */
  readonly processes: ReadonlyMap<number, ProcessSnapshot>;
  readonly metadata: RunMetadata;
}

/** Orders mappings by start address, as `findMapping` needs them. */
export const byStart = (a: Mapping, b: Mapping): number => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0);

/** The mapping holding `address`, by binary search in mappings sorted by start (`byStart`). */
export function findMapping(sorted: readonly Mapping[], address: bigint): Mapping | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const m = sorted[mid]!;
    if (address < m.start) hi = mid - 1;
    else if (address >= m.end) lo = mid + 1;
    else return m;
  }
  return undefined;
}

/**
 * How a user stack was walked, kept as one extra address at its root end: the walk's stop reason
 * and method (bpf/profile.h: enum unwind_stop, WALK_*). No user address is this high (it is in the
 * kernel's half, in its last page), so it cannot be mistaken for a frame.
 */
const UNWIND_MARKER_BASE = 0xffff_ffff_ffff_f000n;

export interface UnwindOutcome {
  /** 0 complete, 1 depth limit, 2 no table and no frame pointer, 3 read fault, 4 a row it cannot follow. */
  readonly stop: number;
  /** Bits: 1 a frame by unwind tables, 2 a frame-pointer step. */
  readonly method: number;
}

export const unwindMarker = (stop: number, method: number): bigint => UNWIND_MARKER_BASE | BigInt(((stop & 0xf) << 4) | (method & 0xf));

export function readUnwindMarker(address: bigint): UnwindOutcome | undefined {
  if (address < UNWIND_MARKER_BASE) return undefined;
  const bits = Number(address & 0xffn);
  return { stop: bits >> 4, method: bits & 0xf };
}
