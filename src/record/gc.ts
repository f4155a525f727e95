/**
 * A full garbage collection on request. A long fork-heavy recording makes garbage faster than V8
 * chooses to collect it: a 120 s run grew to 187 MB RSS while its live heap, measured with a
 * forced collection every 10 s, stayed at 9–24 MB (README, Reliability). V8 exposes `gc` only
 * behind a flag; setting the flag at run time and taking the function from a new context is the
 * documented way in (node's own tests do it), and costs nothing until called.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import koffi from 'koffi';

let collect: (() => void) | null | undefined;
let trim: ((pad: number) => number) | null | undefined;

export function collectGarbage(): void {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = null; // a runtime without it: V8 collects on its own schedule
    }
  }
  collect?.();
}

/**
 * `collectGarbage`, then glibc's malloc_trim: native memory freed by libdw, libelf and the
 * buffers V8 released stays in malloc's arenas otherwise, counted in RSS, after every interval
 * the agent names with a symbolizer of its own.
 */
export function collectAndTrim(): void {
  collectGarbage();
  if (trim === undefined) {
    try {
      trim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as (pad: number) => number;
    } catch {
      trim = null; // not glibc
    }
  }
  trim?.(0);
}
