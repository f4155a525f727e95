/**
 * Feeds a symbolizer's `warm` from a running recording, in slices of a few milliseconds, only
 * while the machine has idle CPU, and within a CPU budget: the work is what naming would do after
 * the recording anyway, moved into time nobody else wanted, so it neither competes with the
 * profiled workload (a busy machine simply names everything after the recording, as without
 * warming) nor keeps the recorder's event loop from signals, harvests and captures for long.
 * The budget (half a percent of one CPU by default) keeps the whole recorder, BPF side included,
 * within 1 % of a CPU on an idle machine too, where warming flat out took 2-6 % for the first
 * tens of seconds; the rest is named after the recording. What is still queued when the
 * recording ends is dropped: the pass after it names everything anyway.
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
/** The share of one CPU warming may use, on average. */
export const WARM_CPU_SHARE = 0.005;
/** Credit saved while there is nothing to warm, ms: a burst of two slices at most. */
const MAX_CREDIT_MS = 2 * SLICE_MS;

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
  /** Warming time allowed now, ms: grows at `cpuShare` ms per ms, spent by slices (below 0 after a long one). */
  private credit = SLICE_MS;
  private creditAt = performance.now();
  /** Stacks warmed so far. */
  warmed = 0;

  constructor(
    private readonly symbolizer: Symbolizer,
    /** Without it, the machine is taken to be idle. */
    private readonly cpuTimes?: CpuTimes,
    private readonly cpus = availableParallelism(),
    private readonly cpuShare = WARM_CPU_SHARE,
  ) {
    this.lastTimes = cpuTimes?.();
    this.lastCheck = performance.now();
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

  private readonly slice = (): void => {
    this.scheduled = false;
    if (this.stopped) return;
    const started = performance.now();
    this.credit = Math.min(MAX_CREDIT_MS, this.credit + (started - this.creditAt) * this.cpuShare);
    this.creditAt = started;
    if (this.credit < SLICE_MS) {
      this.schedule(Math.ceil((SLICE_MS - this.credit) / this.cpuShare));
      return;
    }
    if (!this.machineIdle()) {
      // Back soon enough that the next look's window is fresh.
      this.schedule(Math.min(IDLE_CHECK_MS, STALE_WINDOW_MS / 2));
      return;
    }
    const end = started + SLICE_MS;
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
    // One warm() can take longer than a slice (a large binary's DWARF): the debt is paid by waiting.
    const now = performance.now();
    this.credit -= now - started;
    if (this.next >= this.queue.length) {
      this.queue = [];
      this.next = 0;
    } else this.schedule(0);
  };
}
