/**
 * When `collapse` reads a file on several threads (src/collapse/parallel.ts), apart from the
 * workers' code so that deciding costs no import of worker_threads.
 */
import { availableParallelism } from 'node:os';

export const PARALLEL_DEFAULTS = Object.freeze({
  /** Files smaller than this are read by one parser: starting the workers would cost more than they save. */
  minBytes: 64 << 20,
  /** At most this many threads. */
  maxThreads: 8,
  /**
   * Parts per thread: threads take parts one at a time, so one on a core that something else
   * keeps busy takes fewer; the last part of each thread is what the others may wait for.
   */
  partsPerThread: 8,
  /** Parts no smaller than this: each costs a message, a merge and a look for a blank line. */
  minPartBytes: 4 << 20,
});

export interface ParallelPlan {
  readonly path: string;
  readonly size: number;
  readonly partBytes: number;
  readonly threads: number;
}

/** The plan for `path` of `size` bytes, or undefined when one parser is the better choice. `partBytes` forces a plan. */
export function parallelPlan(path: string, size: number, partBytes?: number): ParallelPlan | undefined {
  const threads = availableParallelism();
  if (partBytes === undefined && (size < PARALLEL_DEFAULTS.minBytes || threads < 2)) return undefined;
  const used = Math.max(2, Math.min(threads, PARALLEL_DEFAULTS.maxThreads));
  const { partsPerThread, minPartBytes } = PARALLEL_DEFAULTS;
  return { path, size, partBytes: partBytes ?? Math.max(minPartBytes, Math.ceil(size / (used * partsPerThread))), threads: used };
}
