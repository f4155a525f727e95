/**
 * Where Brendan Gregg's FlameGraph checkout is, for tests that use its scripts as the reference:
 * FLAMEGRAPH_DIR, or `../shared/peers/FlameGraph` beside the repository. A test that needs it
 * fails under CI=true when it is missing, and skips with the reason elsewhere.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export const FLAMEGRAPH_DIR = process.env.FLAMEGRAPH_DIR || join(ROOT, '..', 'shared', 'peers', 'FlameGraph');

/** Why `files` of the FlameGraph checkout (and perl) cannot be used, or undefined when they can. */
export function flamegraphMissing(...files: string[]): string | undefined {
  for (const file of files) {
    const path = join(FLAMEGRAPH_DIR, file);
    if (!existsSync(path)) return `${path} is missing (set FLAMEGRAPH_DIR to a FlameGraph checkout)`;
  }
  const perl = spawnSync('perl', ['-e', '1']);
  if (perl.error || perl.status !== 0) return `perl does not run (${perl.error?.message ?? `exit ${perl.status}`})`;
  return undefined;
}

/** Fails under CI, skips elsewhere; true when the test can go on. */
export function requireFlamegraph(t: { fail: (m: string) => void; pass: (m: string, o: { skip: string }) => void }, ...files: string[]): boolean {
  const missing = flamegraphMissing(...files);
  if (missing === undefined) return true;
  if (process.env.CI === 'true') t.fail(missing);
  else t.pass('skipped', { skip: missing });
  return false;
}

/** stackcollapse-perf.pl with `flags` on `file`, or on `input` through standard input when given. */
export function stackcollapsePerf(flags: readonly string[], file: string | undefined, input?: Uint8Array): { stdout: Buffer; stderr: string; status: number | null } {
  const run = spawnSync('perl', [join(FLAMEGRAPH_DIR, 'stackcollapse-perf.pl'), ...flags, ...(file === undefined ? [] : [file])], {
    input,
    maxBuffer: 1 << 28,
  });
  if (run.error) throw run.error;
  return { stdout: run.stdout, stderr: run.stderr.toString('utf8'), status: run.status };
}
