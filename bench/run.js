#!/usr/bin/env node
// `npm run bench [-- NAME…]`: runs every bench/*.bench.js (or those whose name contains NAME)
// one after another, each in its own process so that peak RSS and timings do not mix.
// Each benchmark prints a Markdown section; peers are found through FLAMEGRAPH_DIR and PATH.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();
if (benches.length === 0) {
  console.error(`bench: nothing matches ${wanted.join(' ')}`);
  process.exit(2);
}
let failed = 0;
for (const bench of benches) {
  console.log(`\n<!-- ${bench} -->`);
  const result = spawnSync(process.execPath, [join(here, bench)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.log(`\n**${bench} failed (exit ${result.status ?? result.signal})**`);
  }
}
process.exit(failed === 0 ? 0 : 1);
