#!/usr/bin/env node
// `npm run bench [-- NAME…]`: runs every bench/*.bench.js (or NAME.bench.js, else those whose name
// contains NAME) one after another, each in its own process so that peak RSS and timings do not mix.
// Each benchmark hands back its rows (bench/report.js); a benchmark that finished is written into
// its section of docs/benchmarks.md, bench/results.json and the README's table, with the date, the
// commit, the load average around it and the command. Peers are found through FLAMEGRAPH_DIR and PATH.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { record, RESULT_FILE_VARIABLE } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const paths = { results: join(here, 'results.json'), docs: join(root, 'docs', 'benchmarks.md'), readme: join(root, 'README.md') };
const all = readdirSync(here).filter((f) => f.endsWith('.bench.js')).sort();
const wanted = process.argv.slice(2);
const pick = (w) => (all.includes(`${w}.bench.js`) ? [`${w}.bench.js`] : all.filter((f) => f.includes(w)));
const benches = wanted.length === 0 ? all : [...new Set(wanted.flatMap(pick))];
if (benches.length === 0) {
  console.error(`bench: nothing matches ${wanted.join(' ')}`);
  process.exit(2);
}

const git = (...args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' });
function commit() {
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return 'unknown (not a git checkout)';
  // Untracked files (a local node_modules link, bench/out) do not change what was measured.
  const dirty = git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? '+dirty' : ''}`;
}
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
/** The variables a benchmark reads (sizes, repetitions, peers), so that the command reproduces the run. */
const settings = () =>
  Object.keys(process.env)
    .filter((k) => k !== RESULT_FILE_VARIABLE && (/^PROFILE_/.test(k) || /_BENCH_/.test(k) || k === 'FLAMEGRAPH_DIR'))
    .sort()
    .map((k) => `${k}=${process.env[k]} `)
    .join('');

const scratch = mkdtempSync(join(tmpdir(), 'profile-bench-'));
let failed = 0;
try {
  for (const bench of benches) {
    const name = bench.replace(/\.bench\.js$/, '');
    const resultFile = join(scratch, `${name}.json`);
    const run = { name, date: new Date().toISOString().slice(0, 10), commit: commit(), loadBefore: load(), command: `${settings()}npm run bench -- ${name}` };
    console.log(`\n<!-- ${bench} -->`);
    const child = spawnSync(process.execPath, [join(here, bench)], { stdio: 'inherit', env: { ...process.env, [RESULT_FILE_VARIABLE]: resultFile } });
    run.loadAfter = load();
    if (child.status !== 0) {
      failed++;
      console.log(`\n**${bench} failed (exit ${child.status ?? child.signal})**: docs/benchmarks.md left as it was`);
    } else if (!existsSync(resultFile)) {
      console.log(`\n${bench} measured nothing (see above): docs/benchmarks.md left as it was`);
    } else {
      record(paths, run, JSON.parse(readFileSync(resultFile, 'utf8')));
      console.log(`\n${bench}: written to docs/benchmarks.md, bench/results.json and README.md`);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(failed === 0 ? 0 : 1);
