/**
 * Golden files: expected outputs kept in the repository. BLESS=1 (re)writes them from what the code
 * produces now; a missing golden is written on a developer's machine (to be reviewed and committed)
 * but fails under CI=true, where a test that writes its own expectation would prove nothing.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { IN_CI } from './requires.js';

export const BLESS = process.env.BLESS === '1';

/** The golden text at `path` to compare `actual` with (written first when blessing). */
export function golden(path: string, actual: string): string {
  if (BLESS || (!existsSync(path) && !IN_CI)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
  }
  if (!existsSync(path)) throw new Error(`${path} is missing: run the test with BLESS=1 and commit the golden`);
  return readFileSync(path, 'utf8');
}
