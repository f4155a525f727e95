/**
 * Feeds a symbolizer's `warm` from a running recording, in slices of a few milliseconds, only
 * while the machine has idle CPU, and within a CPU budget: the work is what naming would do after
 * the recording anyway, moved into time nobody else wanted, so it neither competes with the
 * profiled workload (a busy machine simply names everything after the recording, as without
 * warming) nor keeps the recorder's event loop from signals, harvests and captures for long.
 * The budget is the recorder's, not warming's own: the whole process (harvests, captures, garbage
 * collection and V8's compiler threads included) may use RECORDER_CPU_SHARE of one CPU, and warming
 * gets only what the rest of the process leaves of it. That keeps the recorder, BPF side included,
 * within 1 % of a CPU on an idle machine, where warming flat out took 2-6 % for the first tens of
 * seconds and a budget of warming's own slices still let the optimizing compiler's threads, which
 * warming keeps busy, take the total past 1 %. The rest is named after the recording. What is
 * still queued when the recording ends is dropped: the pass after it names everything anyway.
 */
import { availableParallelism } from 'node:os';
import type { ProcessSnapshot } from '../profile/raw.js';
import type { Symbolizer } from './index.js';

const SLICE_MS = 5;
/** How long a busy machine is left alone before its idle time is looked at again. */
const IDLE_CHECK_MS = 250;
/** A verdict younger than this is reused (a /proc/stat read is ~40 µs; slices come every few ms). */
const VERDICT_MS = 50;
/** Idle time measured over a longer window than this says nothing about now: measure afresh. */
const STALE_WINDOW_MS = 500;
/** Idle CPU (in CPUs) the last check must have seen for warming to go on. */
const IDLE_CPUS_NEEDED = 0.5;
/**
 * The share of one CPU the recorder's process may use, on average, before warming waits: 0.7 %,
 * which leaves the BPF side (~0.1-0.3 % at 99 Hz on two CPUs) within a recorder total of 1 %.
 */
export const RECORDER_CPU_SHARE = 0.007;
/** Credit saved while there is nothing to warm, ms: a burst of two slices at most. */
const MAX_CREDIT_MS = 2 * SLICE_MS;
/**
 * Debt is forgiven beyond this much wall time's share, ms: what the process spent longer ago (its
 * start-up, a large harvest) does not hold warming back for the rest of a recording.
 */
const DEBT_FORGIVEN_AFTER_MS = 10_000;
/** The longest wait for credit, ms: a timer is re-armed rather than set beyond what Node allows. */
const MAX_WAIT_MS = 10_000;

/** CPU time the whole process has used, ms: every thread, user and system. */
export type ProcessCpuMs = () => number;
const processCpuMs: ProcessCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Jiffies all CPUs spent idle and in all since boot (src/host cpuTimes). */
export type CpuTimes = () => { readonly idle: number; readonly total: number } | undefined;

export class Warmup {
  private queue: { readonly snapshot: ProcessSnapshot; readonly stack: readonly bigint[] }[] = [];
  private next = 0;
  private scheduled = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastCheck = 0;
  private lastTimes: { readonly idle: number; readonly total: number } | undefined;
  private idle = false;
  /**
   * Warming time allowed now, ms: grows at `cpuShare` ms per ms of wall time and is spent by every
   * ms of CPU the process uses, warming or not (below 0 after a harvest or a long slice).
   */
  private credit = SLICE_MS;
  private creditAt = performance.now();
  private cpuAt: number;
  /** Stacks warmed so far. */
  warmed = 0;

  constructor(
    private readonly symbolizer: Symbolizer,
    /** Without it, the machine is taken to be idle. */
    private readonly cpuTimes?: CpuTimes,
    private readonly cpus = availableParallelism(),
    private readonly cpuShare = RECORDER_CPU_SHARE,
    private readonly cpuUsed: ProcessCpuMs = processCpuMs,
  ) {
    this.lastTimes = cpuTimes?.();
    this.lastCheck = performance.now();
    this.cpuAt = cpuUsed();
  }

  add(snapshot: ProcessSnapshot, stack: readonly bigint[]): void {
    if (this.stopped || stack.length === 0) return;
    this.queue.push({ snapshot, stack });
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.queue = [];
    this.next = 0;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    if (delayMs === 0) setImmediate(this.slice);
    // Unreferenced: a recording that ends does not wait for warming.
    else this.timer = setTimeout(this.slice, delayMs).unref();
  }

  /**
   * Whether at least IDLE_CPUS_NEEDED CPUs were idle over the last moment. A window that reaches
   * back past STALE_WINDOW_MS (the first look, or after a pause) could be idle time from before
   * a workload started: it counts as busy, and the next look, soon, measures a fresh window.
   */
  private machineIdle(): boolean {
    if (!this.cpuTimes) return true;
    const now = performance.now();
    if (now - this.lastCheck < VERDICT_MS) return this.idle;
    const times = this.cpuTimes();
    const last = this.lastTimes;
    const stale = now - this.lastCheck > STALE_WINDOW_MS;
    this.lastCheck = now;
    this.lastTimes = times;
    if (!times || !last || times.total <= last.total) this.idle = false;
    else this.idle = !stale && ((times.idle - last.idle) / (times.total - last.total)) * this.cpus >= IDLE_CPUS_NEEDED;
    return this.idle;
  }

  /** Credit earned since the last settlement, less all the CPU the process used meanwhile. */
  private settle(): void {
    const now = performance.now();
    const cpu = this.cpuUsed();
    const earned = (now - this.creditAt) * this.cpuShare;
    this.credit = Math.max(-DEBT_FORGIVEN_AFTER_MS * this.cpuShare, Math.min(MAX_CREDIT_MS, this.credit + earned - (cpu - this.cpuAt)));
    this.creditAt = now;
    this.cpuAt = cpu;
  }

  private readonly slice = (): void => {
    this.scheduled = false;
    if (this.stopped) return;
    this.settle();
    if (this.credit < SLICE_MS) {
      this.schedule(Math.min(MAX_WAIT_MS, Math.ceil((SLICE_MS - this.credit) / this.cpuShare)));
      return;
    }
    if (!this.machineIdle()) {
      // Back soon enough that the next look's window is fresh.
      this.schedule(Math.min(IDLE_CHECK_MS, STALE_WINDOW_MS / 2));
      return;
    }
    const end = performance.now() + SLICE_MS;
    try {
      while (this.next < this.queue.length && performance.now() < end) {
        const { snapshot, stack } = this.queue[this.next++]!;
        this.symbolizer.warm(snapshot, stack);
        this.warmed++;
      }
    } catch {
      // Nothing thrown here may end a recording: the pass after it meets the same input and
      // reports it as it always does. Warming is only ever a head start.
      this.stop();
      return;
    }
    // One warm() can take longer than a slice (a large binary's DWARF): the debt is paid by
    // waiting, and so is what the compiler's threads spend on the code warming runs.
    if (this.next >= this.queue.length) {
      this.queue = [];
      this.next = 0;
    } else this.schedule(0);
  };
}
