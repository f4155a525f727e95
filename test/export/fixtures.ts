/** Real stack files every export/input test round-trips: collapse fixtures and render inputs. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';

export const ROUND_TRIP_FILES: readonly string[] = [
  ...readdirSync(join(ROOT, 'fixtures/collapse/perf')).filter((f) => f.endsWith('.txt')).map((f) => join(ROOT, 'fixtures/collapse/perf', f)),
  join(ROOT, 'fixtures/render/small.folded'),
  join(ROOT, 'fixtures/render/hostile.folded'),
  join(ROOT, 'fixtures/diff/before.folded'),
  join(ROOT, 'fixtures/diff/after.folded'),
];
