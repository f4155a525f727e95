/**
 * Builds the recorder's fixture programs (fixtures/programs/*.c) once into the gitignored
 * fixtures/build/, with clang -O1 -fno-omit-frame-pointer (gcc drops callers in leaf-ish
 * code) and -no-pie so their symbols sit at fixed addresses: the tests name their frames from
 * `nm` without depending on the symbolizer.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';

export const PROGRAMS = join(ROOT, 'fixtures', 'programs');
export const BUILD = join(ROOT, 'fixtures', 'build');

export function buildProgram(name: string): string {
  const source = join(PROGRAMS, `${name}.c`);
  const out = join(BUILD, name);
  mkdirSync(BUILD, { recursive: true });
  let fresh = false;
  try {
    fresh = statSync(out).mtimeMs >= statSync(source).mtimeMs;
  } catch {
    // not built yet
  }
  if (!fresh) execFileSync('clang-14', ['-O1', '-fno-omit-frame-pointer', '-no-pie', '-o', out, source]);
  return out;
}

export interface Symbol {
  readonly name: string;
  readonly start: bigint;
  readonly end: bigint;
}

/** Function symbols of a non-PIE binary, from `nm -S`. */
export function functionSymbols(binary: string): Symbol[] {
  const symbols: Symbol[] = [];
  for (const line of execFileSync('nm', ['-S', '--defined-only', binary], { encoding: 'utf8' }).split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) [tT] (\S+)$/.exec(line);
    if (m) symbols.push({ name: m[3]!, start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[1]}`) + BigInt(`0x${m[2]}`) });
  }
  return symbols;
}

/** Names of the frames of `stack` (leaf first) that fall in `symbols`, root first. */
export function chain(stack: readonly bigint[], symbols: readonly Symbol[]): string[] {
  const names: string[] = [];
  for (let i = stack.length - 1; i >= 0; i--) {
    // Return addresses point after the call; step back one byte into the calling instruction.
    const address = i === 0 ? stack[i]! : stack[i]! - 1n;
    const symbol = symbols.find((s) => address >= s.start && address < s.end);
    if (symbol) names.push(symbol.name);
  }
  return names;
}
