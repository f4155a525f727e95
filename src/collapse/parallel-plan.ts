/**
 * When `collapse` reads a file on several threads (src/collapse/parallel.ts), apart from the
 * workers' code so that deciding costs no import of worker_threads.
 */
import { availableParallelism } from 'node:os';

export const PARALLEL_DEFAULTS = Object.freeze({
  /** Files smaller than this are read by one parser: starting the workers would cost more than they save. */
  minBytes: 64 << 20,
  /**
   * At most this many threads. Each thread reads one part, as long as the file is divided by
   * threads: a parser is fast once its tables hold the input's distinct lines and stacks, and each
   * new part starts with empty tables (32 MB parts of the 400 MB benchmark input took twice the
   * CPU of one parser).
   */
  maxThreads: 8,
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
  return { path, size, partBytes: partBytes ?? Math.ceil(size / used), threads: used };
}
