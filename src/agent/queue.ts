/**
 * The agent's push queue: finished intervals are sent in order, one at a time, off the sampling
 * path. While the server cannot be reached the head is retried with a doubling back-off, later
 * intervals wait in memory up to `memoryIntervals`, and beyond that the oldest waiting ones move
 * to the spool (src/agent/spool.ts), which drops its oldest when over its bound. The next interval
 * sent is always the lowest sequence number of spool and memory, so the server receives them in
 * the order they were recorded, each series once.
 */
import type { EncodedPush } from '../export/push.js';
import type { EncodedInterval } from './interval.js';
import type { Spool } from './spool.js';

export interface QueueCounters {
  /** Intervals whose every series the server accepted. */
  pushed: number;
  /** Attempts repeated after a failure (the pusher's own retries and the queue's). */
  retried: number;
  /** Intervals written to the spool. */
  spooled: number;
  /** Intervals lost: dropped from a full spool, or a spool file that could not be read. */
  dropped: number;
  /** Series (profiles) the server accepted. */
  profiles: number;
  /** Body bytes the server accepted. */
  bytes: number;
}

export interface QueueOptions {
  /** Finished intervals held in memory before the oldest waiting ones go to the spool. */
  readonly memoryIntervals: number;
  /** First wait after a failed push (the pusher's retries exhausted); doubled up to `maxBackoffMs`. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

/** Sends one series; throws when it could not (after the pusher's own retries). `retried` counts those. */
export type SendSeries = (push: EncodedPush, signal: AbortSignal, retried: () => void) => Promise<void>;

interface Pending {
  interval: EncodedInterval;
  /** Series of it already accepted. */
  sent: number;
}

export class PushQueue {
  readonly counters: QueueCounters = { pushed: 0, retried: 0, spooled: 0, dropped: 0, profiles: 0, bytes: 0 };
  private readonly memory: Pending[] = [];
  /** The interval being sent, from memory or the spool. */
  private current: Pending | undefined;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly abort = new AbortController();
  private closing = false;
  /** The interval being sent was dropped from the spool meanwhile. */
  private currentDropped = false;

  constructor(
    private readonly spool: Spool,
    private readonly send: SendSeries,
    private readonly options: QueueOptions,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  /** Intervals waiting in memory (the one being sent included when it came from memory). */
  get inMemory(): number {
    return this.memory.length;
  }

  /** Starts sending what the spool holds. */
  start(): void {
    this.kick();
  }

  add(interval: EncodedInterval): void {
    this.memory.push({ interval, sent: 0 });
    this.spill(this.options.memoryIntervals);
    this.kick();
  }

  /**
   * Keeps sending for up to `drainMs`, then stops and writes whatever is left to the spool, so a
   * restart sends it.
   */
  async close(drainMs: number): Promise<void> {
    this.kick();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)));
    await Promise.race([this.idle(), deadline]);
    clearTimeout(timer);
    this.closing = true;
    this.abort.abort();
    this.wake?.();
    await this.running;
    this.spill(0);
  }

  /** Resolves once nothing is left to send. */
  private async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private kick(): void {
    this.wake?.();
    if (this.running || this.closing) return;
    this.running = this.run().finally(() => (this.running = undefined));
  }

  /** Moves the oldest waiting intervals of memory (not the one being sent) to the spool until at most `keep` are left. */
  private spill(keep: number): void {
    for (let i = 0; this.memory.length > keep && i < this.memory.length; ) {
      const pending = this.memory[i]!;
      if (pending === this.current) {
        i++;
        continue;
      }
      this.memory.splice(i, 1);
      const rest = { ...pending.interval, series: pending.interval.series.slice(pending.sent) };
      try {
        this.countDropped(this.spool.put(rest));
        this.counters.spooled++;
      } catch (error) {
        this.counters.dropped++;
        this.log(`interval ${rest.seq} lost: the spool could not store it (${(error as Error).message})`);
      }
    }
  }

  /**
   * Counts intervals the spool dropped. The one being sent may be among them: it is counted as
   * dropped unless its send then succeeds after all.
   */
  private countDropped(seqs: readonly number[]): void {
    this.counters.dropped += seqs.length;
    if (this.current && seqs.includes(this.current.interval.seq)) this.currentDropped = true;
  }

  /** The lowest sequence number waiting, from the spool or memory. */
  private next(): Pending | undefined {
    const spooled = this.spool.oldestSeq;
    const held = this.memory[0];
    if (spooled !== undefined && (held === undefined || spooled < held.interval.seq)) {
      const interval = this.spool.oldest(() => this.counters.dropped++);
      if (interval) return { interval, sent: 0 };
    }
    return held;
  }

  private async run(): Promise<void> {
    let backoff = this.options.backoffMs;
    for (let pending = this.next(); pending !== undefined && !this.closing; pending = this.next()) {
      this.current = pending;
      const fromSpool = !this.memory.includes(pending);
      try {
        while (pending.sent < pending.interval.series.length) {
          const push = pending.interval.series[pending.sent]!;
          await this.send(push, this.abort.signal, () => this.counters.retried++);
          pending.sent++;
          this.counters.profiles++;
          this.counters.bytes += push.body.length;
          // A spooled interval half sent is rewritten without what went, so a restart sends none twice.
          if (fromSpool && !this.currentDropped && pending.sent < pending.interval.series.length) {
            this.countDropped(this.spool.put({ ...pending.interval, series: pending.interval.series.slice(pending.sent) }));
          }
        }
      } catch (error) {
        this.currentDropped = false;
        if (this.closing) break;
        this.counters.retried++;
        this.log(`${(error as Error).message}; trying again in ${backoff} ms`);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs);
        continue;
      } finally {
        this.current = undefined;
      }
      backoff = this.options.backoffMs;
      this.counters.pushed++;
      if (this.currentDropped) this.counters.dropped--; // it got through after all
      this.currentDropped = false;
      if (fromSpool) this.spool.remove(pending.interval.seq);
      else this.memory.splice(this.memory.indexOf(pending), 1);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => (this.wake = undefined));
  }
}
