/**
 * When `collapse` reads a file on several threads (src/collapse/parallel.ts), apart from the
 * workers' code so that deciding costs no import of worker_threads.
 */
import { availableParallelism, loadavg } from 'node:os';

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

/** How busy the machine is: its cores, and its load average over the last minute. */
export interface MachineLoad {
  readonly cores: number;
  readonly load: number;
}

const machineLoad = (): MachineLoad => ({ cores: availableParallelism(), load: loadavg()[0]! });

/**
 * The threads worth starting: the cores other programs leave free (cores − load average, half a
 * free core counted as one) and the one this command runs on. The load average lags: on a 2-core
 * machine at load 1.2, just after other work ended, two threads read the 384 MiB benchmark input
 * in 1.65 s and one in 2.0 s. A thread that has to share its core costs more than it brings: each
 * thread compiles the parser and meets the input's distinct lines once (~0.5 s of CPU on the
 * 384 MiB benchmark input, more when the machine is busy), and on a 2-core machine at load
 * average 4–5 one thread read that input in 3.9–4.8 s where two took 4.2–6.0 s.
 */
export function usefulThreads({ cores, load }: MachineLoad): number {
  return Math.max(1, Math.min(cores, PARALLEL_DEFAULTS.maxThreads, Math.floor(cores - load + 1.5)));
}

/**
 * The plan for `path` of `size` bytes, or undefined when one parser is the better choice: a small
 * file, or a machine without two cores to spare. `partBytes` forces a plan (two threads at least).
 */
export function parallelPlan(path: string, size: number, partBytes?: number, machine: MachineLoad = machineLoad()): ParallelPlan | undefined {
  const threads = usefulThreads(machine);
  if (partBytes === undefined && (size < PARALLEL_DEFAULTS.minBytes || threads < 2)) return undefined;
  const used = Math.max(2, threads);
  const { partsPerThread, minPartBytes } = PARALLEL_DEFAULTS;
  return { path, size, partBytes: partBytes ?? Math.max(minPartBytes, Math.ceil(size / (used * partsPerThread))), threads: used };
}
