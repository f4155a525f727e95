/**
 * Tests that need an outside tool (g++, rustc, c++filt, unshare, …): skipped with the reason when
 * the tool is missing, but a loud failure in CI, where scripts/install.sh should have provided it.
 */
import { spawnSync } from 'node:child_process';

/** The reason to skip, or undefined when every tool runs. Throws in CI instead of skipping. */
export function missingTools(...tools: string[]): string | undefined {
  const missing = tools.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  if (missing.length === 0) return undefined;
  const reason = `needs ${missing.join(', ')} (not installed)`;
  if (process.env.CI === 'true') throw new Error(`CI: ${reason}`);
  return reason;
}
