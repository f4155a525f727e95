/**
 * Which process each pid stands for while recording. A pid names a process only together with
 * its start time: on a fork-heavy host with pid_max 32768 pids come round again within seconds,
 * and a later process's samples must never be named through an earlier one's memory map (nor
 * the earlier one's through the later's). The BPF side puts the start time into every sample
 * key and announcement (bpf/profile.bpf.c, process_start); here a pid's earlier process is
 * retired the moment a later one shows up: its samples are folded by name (src/record/
 * accumulator.ts) with its own snapshot, and its late samples, harvested after that, follow it.
 */
import { byStart, findMapping, type AnnouncedIdentity, type Mapping, type ProcessAnnouncement, type ProcessSnapshot } from '../profile/raw.js';
import type { SampleAccumulator } from './accumulator.js';
import type { HarvestedCount } from './session.js';

/** The BPF start time (ns since boot) in /proc/PID/stat's clock ticks (USER_HZ, 100 on Linux). */
export const startTicksOf = (startNs: number): number => Math.floor(startNs / 10_000_000);

type Capture = (pid: number, comm: string, announced?: ProcessAnnouncement) => ProcessSnapshot | undefined;

interface Retired {
  readonly snapshot: ProcessSnapshot | undefined;
  /** Harvests started when it was retired: its samples are all in user space once a later one ends. */
  readonly harvest: number;
}

export class ProcessGenerations {
  /** The snapshot of the process held under each pid (the map the accumulator folds from). */
  readonly snapshots = new Map<number, ProcessSnapshot>();
  /** Start time of the process held under each pid (at most pid_max entries, however many processes come and go). */
  private readonly starts = new Map<number, number>();
  private readonly retired = new Map<string, Retired>();
  private processesSeen = 0;
  private harvestsStarted = 0;
  captured = 0;
  /** Processes whose pid a later process took during the recording. */
  reusedPids = 0;
  /** Snapshots that took in mappings added after their capture. */
  remaps = 0;

  constructor(
    private readonly accumulator: SampleAccumulator,
    private readonly captureProcess: Capture | undefined,
    private readonly startedAt: number,
    /**
     * A process was captured (`start` as in the BPF key) / its pid no longer names it / its memory
     * map was read again on the walker's request (`changed`: it maps executable files it did not).
     */
    private readonly watcher?: {
      captured(snapshot: ProcessSnapshot, start: number): void;
      gone(pid: number): void;
      remapped?(snapshot: ProcessSnapshot, start: number, changed: boolean): void;
    },
  ) {}

  /** Distinct processes (pid and start time) sampled so far. */
  get seen(): number {
    return this.processesSeen;
  }

  /**
   * An announcement from the BPF side (a process's first sample, or its first after an exec):
   * true when it should be captured, which `capture` then does (soon, not necessarily now).
   */
  announced(pid: number, start: number): boolean {
    return this.place(pid, start);
  }

  /** Snapshots `pid` if it is still the process that started at `start` (`identity`: as the BPF side announced it). */
  capture(pid: number, comm: string, start: number, identity?: AnnouncedIdentity): void {
    if (this.starts.get(pid) !== start) return; // retired meanwhile
    const snapshot = this.captureProcess?.(pid, comm, { ...identity, startTicks: startTicksOf(start) });
    if (!snapshot) return;
    // Gone, and its pid already taken by another process: that one's map would name wrong code.
    if (snapshot.startTicks !== undefined && snapshot.startTicks !== startTicksOf(start)) return;
    // After an exec the newest image replaces the old one: most of its samples are the new image's.
    const held = { ...snapshot, capturedAtMs: snapshot.capturedAtMs ?? Date.now() - this.startedAt };
    this.snapshots.set(pid, held);
    this.captured++;
    this.watcher?.captured(held, start);
  }

  /**
   * The unwinder met `pc` outside the process's mappings with tables. Unless the snapshot held
   * maps it already (JIT code, a binary whose table is on its way), the memory map is read again:
   * mappings added since (a library loaded with dlopen, as Python loads its extension modules)
   * join the snapshot, which keeps the ones since unmapped for the samples taken before.
   */
  remap(pid: number, comm: string, start: number, pc: bigint): void {
    const held = this.snapshots.get(pid);
    if (!held || this.starts.get(pid) !== start) return;
    if (findMapping([...held.mappings].sort(byStart), pc)) {
      this.watcher?.remapped?.(held, start, false);
      return;
    }
    const fresh = this.captureProcess?.(pid, comm, { startTicks: startTicksOf(start) });
    if (!fresh || (fresh.startTicks !== undefined && fresh.startTicks !== startTicksOf(start))) return;
    const isNew = (m: Mapping): boolean => m.perms.includes('x') && m.inode !== 0 && !held.mappings.some((h) => h.start === m.start && h.inode === m.inode);
    if (!fresh.mappings.some(isNew)) {
      this.watcher?.remapped?.(held, start, false);
      return;
    }
    const overlapsFresh = (m: Mapping): boolean => fresh.mappings.some((f) => f.start < m.end && m.start < f.end);
    const merged: ProcessSnapshot = {
      ...fresh,
      mappings: [...fresh.mappings, ...held.mappings.filter((m) => !overlapsFresh(m))].sort(byStart),
      fds: new Map([...(held.fds ?? []), ...(fresh.fds ?? [])]),
      capturedAtMs: held.capturedAtMs,
    };
    this.snapshots.set(pid, merged);
    this.remaps++;
    this.watcher?.remapped?.(merged, start, true);
  }

  /** One harvested entry into the accumulator, under the process it belongs to. */
  add(entry: HarvestedCount): void {
    const held = this.starts.get(entry.tgid);
    if (held !== entry.start) {
      if (held !== undefined && entry.start < held) {
        this.accumulator.addRetired(entry, this.retired.get(`${entry.tgid} ${entry.start}`)?.snapshot);
        return;
      }
      // A process not met yet: its announcement was lost (a full ring buffer) or is not read yet.
      this.place(entry.tgid, entry.start);
      this.capture(entry.tgid, entry.comm, entry.start);
    }
    this.accumulator.add(entry);
  }

  harvestStarted(): number {
    return ++this.harvestsStarted;
  }

  /** Harvest `number` has been added: processes retired before it started have no samples left to come. */
  harvestDone(number: number): void {
    for (const [key, retired] of this.retired) if (retired.harvest < number) this.retired.delete(key);
  }

  /** `pid`'s process was folded by the accumulator (it exited): a later process may take the pid. */
  folded(pid: number): void {
    this.starts.delete(pid);
    this.watcher?.gone(pid);
  }

  /** Makes the process that started at `start` the one held under `pid`; false when it is an earlier one's. */
  private place(pid: number, start: number): boolean {
    const held = this.starts.get(pid);
    if (held === start) return true;
    if (held !== undefined) {
      if (start < held) return false;
      const snapshot = this.snapshots.get(pid);
      this.accumulator.retire(pid, snapshot);
      this.snapshots.delete(pid);
      this.watcher?.gone(pid);
      this.retired.set(`${pid} ${held}`, { snapshot, harvest: this.harvestsStarted });
      this.reusedPids++;
    }
    this.starts.set(pid, start);
    this.processesSeen++;
    return true;
  }
}
