/**
 * Processes announced by the BPF side (their first sample, an exec), captured through
 * `ProcessGenerations` a few milliseconds' worth per turn of the event loop: at the start of a
 * system-wide run hundreds arrive at once, and capturing them in one go kept signals (a second
 * Ctrl-C) and timers waiting for a second or more.
 */
import type { ProcessGenerations } from './generations.js';
import type { AnnouncedIdentity } from '../profile/raw.js';

/** The capture time one turn of the event loop may take, ms. */
const TURN_MS = 2;

export class AnnouncementQueue {
  private readonly waiting: { readonly pid: number; readonly comm: string; readonly start: number; readonly identity?: AnnouncedIdentity }[] = [];
  private draining = false;

  constructor(private readonly generations: ProcessGenerations) {}

  /** A process's announcement: captured now when nothing waits, before a short-lived one can exit. */
  announce(pid: number, comm: string, start: number, identity?: AnnouncedIdentity): void {
    if (!this.generations.announced(pid, start)) return;
    if (!this.draining) {
      this.generations.capture(pid, comm, start, identity);
      this.draining = true;
      setImmediate(() => (this.waiting.length > 0 ? this.drainSome() : (this.draining = false)));
      return;
    }
    this.waiting.push({ pid, comm, start, identity });
  }

  /** Captures everything still waiting, at once (the recording has stopped). */
  drainAll(): void {
    for (let next = this.waiting.shift(); next !== undefined; next = this.waiting.shift()) this.generations.capture(next.pid, next.comm, next.start, next.identity);
  }

  /**
   * A few milliseconds' worth per turn: a fork-heavy host announces hundreds of 3 ms processes a
   * second, and one capture per turn left one in eight to exit first.
   */
  private readonly drainSome = (): void => {
    const until = performance.now() + TURN_MS;
    for (let next = this.waiting.shift(); next !== undefined; next = this.waiting.shift()) {
      this.generations.capture(next.pid, next.comm, next.start, next.identity);
      if (performance.now() >= until) break;
    }
    if (this.waiting.length > 0) setImmediate(this.drainSome);
    else this.draining = false;
  };
}
