/**
 * The unwinding tests' fixture programs, built as distributions build their packages: gcc -O2
 * -fomit-frame-pointer, no -g, PIE (gcc's default). -fno-ipa-icf keeps calltree's a, b and d apart
 * (identical bodies, which identical-code folding would merge into one function). Folded stacks
 * are read back by chain: the frames below the process name, root first.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD, PROGRAMS } from '../record/fixtures.js';

export function buildWithoutFramePointers(name: string): string {
  return buildOnce(name, `${name}-nofp`, ['-O2', '-fomit-frame-pointer', '-fno-ipa-icf', '-lm', '-lpthread']);
}

/** A shared library from fixtures/programs, built the same way (-shared -fPIC). */
export function buildLibraryWithoutFramePointers(name: string): string {
  return buildOnce(name, `${name}-nofp.so`, ['-O2', '-fomit-frame-pointer', '-shared', '-fPIC']);
}

/** Builds PROGRAMS/NAME.c into BUILD/OUTPUT unless it is newer than its source. */
function buildOnce(name: string, output: string, flags: readonly string[]): string {
  const source = join(PROGRAMS, `${name}.c`);
  const out = join(BUILD, output);
  mkdirSync(BUILD, { recursive: true });
  let fresh = false;
  try {
    fresh = statSync(out).mtimeMs >= statSync(source).mtimeMs;
  } catch {
    // not built yet
  }
  if (!fresh) execFileSync('gcc', ['-o', out, source, ...flags]);
  return out;
}

export interface Chain {
  readonly comm: string;
  /** Root first, the process name left out. */
  readonly frames: readonly string[];
  readonly count: number;
}

/** Folded lines (`comm;f1;f2 N`) as chains. */
export function chains(folded: string): Chain[] {
  return folded
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const space = line.lastIndexOf(' ');
      const [comm, ...frames] = line.slice(0, space).split(';');
      return { comm: comm!, frames, count: Number(line.slice(space + 1)) };
    });
}

/** Weight of the chains `select` picks, and of those among them that `exact` accepts. */
export function share(all: readonly Chain[], select: (c: Chain) => boolean, exact: (c: Chain) => boolean): { total: number; exact: number; ratio: number } {
  let total = 0;
  let good = 0;
  for (const c of all) {
    if (!select(c)) continue;
    total += c.count;
    if (exact(c)) good += c.count;
  }
  return { total, exact: good, ratio: total === 0 ? 0 : good / total };
}

/** The root of every chain of a C program's main thread, as glibc starts it. */
export const MAIN_ROOT = /^_start;__libc_start_main[^;]*;__libc_start_call_main;main(;|$)/;
