// `npm run bench -- collapse`: `profile collapse` of the shared 40 MB perf script corpus against
// stackcollapse-perf.pl ($FLAMEGRAPH_DIR), medians of 5 alternating runs, identical output checked,
// MiB/s and peak RSS (GNU time's "Maximum resident set size") per tool. The whole command includes
// Node and oclif start-up (~0.3 s); "library" is collapse() + folded writing in one process,
// measured after a warm-up run, which is what a long-running caller pays.
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const corpus = join(root, '..', 'shared', 'data', 'perf-script-mixed.txt.zst');
const RUNS = 5;

if (!existsSync(corpus)) {
  console.log(`## collapse\n\nabsent: ${corpus} (the shared corpus) — nothing to measure`);
  process.exit(0);
}
const work = mkdtempSync(join(tmpdir(), 'collapse-bench-'));
const input = join(work, 'perf-script-mixed.txt');
const unzip = spawnSync('zstd', ['-dc', corpus], { maxBuffer: 1 << 30 });
if (unzip.status !== 0) throw new Error(`zstd failed: ${unzip.stderr}`);
writeFileSync(input, unzip.stdout);
const mib = statSync(input).size / (1 << 20);

const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
function run(command, args) {
  const argv = timeBin ? ['-f', '%M', command, ...args] : [command, ...args];
  const started = process.hrtime.bigint();
  const result = spawnSync(timeBin ?? command, timeBin ? argv : args, { maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  const rssKb = timeBin ? Number(result.stderr.toString().trim().split('\n').pop()) : NaN;
  return { seconds, rssKb, stdout: result.stdout };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const flamegraph = process.env.FLAMEGRAPH_DIR;
const perlScript = flamegraph ? join(flamegraph, 'stackcollapse-perf.pl') : undefined;
const havePerl = perlScript !== undefined && existsSync(perlScript);

const ours = { seconds: [], rss: [] };
const perl = { seconds: [], rss: [] };
let identical;
for (let i = 0; i < RUNS; i++) {
  const a = run(process.execPath, [join(root, 'bin', 'run.js'), 'collapse', input]);
  ours.seconds.push(a.seconds);
  ours.rss.push(a.rssKb);
  if (havePerl) {
    const b = run('perl', [perlScript, input]);
    perl.seconds.push(b.seconds);
    perl.rss.push(b.rssKb);
    if (identical === undefined) identical = a.stdout.equals(b.stdout);
  }
}

// Library time: in this process, after one warm-up run.
const { collapse } = await import(join(root, 'dist', 'collapse', 'index.js'));
const { foldedLines } = await import(join(root, 'dist', 'profile', 'folded.js'));
const library = [];
for (let i = 0; i <= RUNS; i++) {
  const started = process.hrtime.bigint();
  const profile = await collapse(createReadStream(input, { highWaterMark: 1 << 20 }), input);
  const text = foldedLines(profile).join('\n');
  if (text.length === 0) throw new Error('no output');
  if (i > 0) library.push(Number(process.hrtime.bigint() - started) / 1e9);
}

const fmt = (s) => `${s.toFixed(3)} s`;
const rate = (s) => `${(mib / s).toFixed(1)} MiB/s`;
const rss = (kb) => (Number.isFinite(kb) ? `${(kb / 1024).toFixed(0)} MiB` : 'n/a');
console.log(`## collapse: ${mib.toFixed(1)} MiB perf script (${readFileSync(input).toString('latin1').split('\n').length} lines), median of ${RUNS}\n`);
console.log('| tool | time | throughput | peak RSS | vs stackcollapse-perf.pl |');
console.log('| --- | --- | --- | --- | --- |');
const ourWhole = median(ours.seconds);
const perlWhole = havePerl ? median(perl.seconds) : undefined;
const ratio = (s) => (perlWhole ? `${(perlWhole / s).toFixed(1)}× faster` : 'peer absent');
console.log(`| profile collapse (whole command) | ${fmt(ourWhole)} | ${rate(ourWhole)} | ${rss(median(ours.rss))} | ${ratio(ourWhole)} |`);
console.log(`| collapse() library, in process | ${fmt(median(library))} | ${rate(median(library))} | — | ${ratio(median(library))} |`);
if (havePerl) console.log(`| stackcollapse-perf.pl | ${fmt(perlWhole)} | ${rate(perlWhole)} | ${rss(median(perl.rss))} | 1× |`);
else console.log(`| stackcollapse-perf.pl | absent (set FLAMEGRAPH_DIR) | | | |`);
console.log(havePerl ? `\nOutput identical to stackcollapse-perf.pl: ${identical ? 'yes' : 'NO'}` : '');
rmSync(work, { recursive: true, force: true });
if (havePerl && !identical) process.exit(1);
