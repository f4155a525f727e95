/**
 * Feeds a symbolizer's `warm` from a running recording, a few milliseconds at a time, so the
 * recorder's event loop stays free for signals, harvests and progress between slices. What is
 * still queued when the recording ends is dropped: the pass after it names everything anyway.
 */
import type { ProcessSnapshot } from '../profile/raw.js';
import type { Symbolizer } from './index.js';

const SLICE_MS = 5;

export class Warmup {
  private queue: { readonly snapshot: ProcessSnapshot; readonly stack: readonly bigint[] }[] = [];
  private next = 0;
  private scheduled = false;
  private stopped = false;
  /** Stacks warmed so far. */
  warmed = 0;

  constructor(private readonly symbolizer: Symbolizer) {}

  add(snapshot: ProcessSnapshot, stack: readonly bigint[]): void {
    if (this.stopped || stack.length === 0) return;
    this.queue.push({ snapshot, stack });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.slice);
    }
  }

  stop(): void {
    this.stopped = true;
    this.queue = [];
    this.next = 0;
  }

  private readonly slice = (): void => {
    this.scheduled = false;
    const end = performance.now() + SLICE_MS;
    while (!this.stopped && this.next < this.queue.length && performance.now() < end) {
      const { snapshot, stack } = this.queue[this.next++]!;
      this.symbolizer.warm(snapshot, stack);
      this.warmed++;
    }
    if (this.next >= this.queue.length) {
      this.queue = [];
      this.next = 0;
    } else if (!this.stopped) {
      this.scheduled = true;
      setImmediate(this.slice);
    }
  };
}
