/**
 * The one gate for tests that need root, BPF, an outside tool or a file. Where the need is met the
 * test runs; where it is not, the test is skipped with the reason on a developer's machine and
 * FAILS under CI=true: CI (.ci/run after scripts/install.sh) must provide everything, so a missing
 * tool there is a broken set-up, never a quiet pass.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { canUseBpf } from './bpf.js';
import { ROOT } from './cli.js';

export const IN_CI = process.env.CI === 'true';

/** What a gate needs of a tap test: the top-level `t` or a subtest's. */
export type Gated = Pick<Test, 'fail' | 'skip'>;

/**
 * True when `available`. Otherwise records why on `t` (a failure under CI=true, a skip elsewhere)
 * and returns false: the caller returns without running the body.
 */
export function requires(t: Gated, what: string, available: boolean): boolean {
  if (available) return true;
  if (IN_CI) t.fail(`CI must provide ${what}`);
  else t.skip(`needs ${what}`, () => undefined);
  return false;
}

/** The tools of `tools` that are not on PATH. */
export function missingTools(...tools: string[]): string[] {
  return tools.filter((tool) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool]).status !== 0);
}

/** `requires` for outside programs (gcc, go, eu-addr2line, …). */
export function requiresTools(t: Gated, ...tools: string[]): boolean {
  const missing = missingTools(...tools);
  return requires(t, `${missing.join(', ')} (not installed)`, missing.length === 0);
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/** `requires` for root (mounts, chown, setuid, namespaces). */
export function requiresRoot(t: Gated, why: string): boolean {
  return requires(t, `root (${why})`, isRoot());
}

/** `requires` for loading BPF programs: root with CAP_BPF and CAP_PERFMON, and bpftool. */
export function requiresBpf(t: Gated): boolean {
  return requires(t, 'root with BPF (CAP_BPF, CAP_PERFMON) and bpftool', canUseBpf());
}

/** `requires` for a file the test reads (a debug file, a corpus, a script). */
export function requiresFile(t: Gated, path: string, what = path): boolean {
  return requires(t, what === path ? path : `${what} (${path})`, existsSync(path));
}

/**
 * FlameGraph's scripts, the oracles for collapse and the SVG: a checkout beside the repository
 * (`../shared/peers/FlameGraph`) unless FLAMEGRAPH_DIR names another one.
 */
export const FLAMEGRAPH_DIR = process.env.FLAMEGRAPH_DIR ?? join(ROOT, '..', 'shared', 'peers', 'FlameGraph');

/** The path of one of FlameGraph's scripts (`stackcollapse-perf.pl`, `flamegraph.pl`, …). */
export const flamegraphScript = (name: string): string => join(FLAMEGRAPH_DIR, name);

/** `requires` for a FlameGraph script and perl to run it. */
export function requiresFlameGraph(t: Gated, name: string): boolean {
  return requiresTools(t, 'perl') && requiresFile(t, flamegraphScript(name), `FlameGraph's ${name} (set FLAMEGRAPH_DIR to a checkout)`);
}
