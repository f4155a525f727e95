// `npm run bench -- collapse`: `profile collapse` of the shared 40 MB perf script corpus against
// stackcollapse-perf.pl ($FLAMEGRAPH_DIR), medians of 5 alternating runs, identical output checked,
// MiB/s and peak RSS (GNU time's "Maximum resident set size") per tool. Wall time and CPU time
// (user + sys, all threads) are both reported: on a shared 2-core machine wall time swings with
// the load, CPU time much less. Rows:
// - whole command: what a user waits for, Node and oclif start-up included;
// - start-up: the whole command on a 15 KB perf script file and `profile --version` (Node, the
//   bundled CLI and oclif), beside `node -e 0` in the same rounds: the target is 2× node -e 0;
// - collapse() cold: the library's first run in a fresh process (JIT warm-up included);
// - collapse() warm: the library after one warm-up run, what a long-running caller pays;
// - 400 MB: the corpus ten times over (what a busy many-core host records), read as the command
//   chooses (worker threads on the cores the load average leaves free, src/collapse/parallel.ts),
//   on threads on every core whatever the load, on one part (one thread) for comparison, and by
//   stackcollapse-perf.pl: medians of BIG_RUNS (default 3; COLLAPSE_BENCH_BIG_RUNS=0 leaves the rows
//   out: the script takes 20-60 s a run, depending on the load). Target: 10× the script's wall time.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit } from './report.js';
import { PARALLEL_DEFAULTS } from '../dist/collapse/parallel-plan.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const corpus = join(process.env.PROFILE_SHARED_DATA || join(root, '..', 'shared', 'data'), 'perf-script-mixed.txt.zst');
const small = join(root, 'fixtures', 'collapse', 'perf', 'process.txt');
const RUNS = 5;
const BIG_RUNS = Number(process.env.COLLAPSE_BENCH_BIG_RUNS ?? 3);

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
function run(command, args, env = process.env) {
  const argv = timeBin ? ['-f', '%M %U %S', command, ...args] : [command, ...args];
  const started = process.hrtime.bigint();
  const result = spawnSync(timeBin ?? command, timeBin ? argv : args, { maxBuffer: 1 << 28, env });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  const [rssKb, user, sys] = timeBin ? result.stderr.toString().trim().split('\n').pop().split(' ').map(Number) : [NaN, NaN, NaN];
  return { seconds, cpu: user + sys, rssKb, stdout: result.stdout };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// FlameGraph's scripts beside the project (../shared/peers/FlameGraph) unless FLAMEGRAPH_DIR says where.
const flamegraph = process.env.FLAMEGRAPH_DIR ?? join(root, '..', 'shared', 'peers', 'FlameGraph');
const perlScript = flamegraph ? join(flamegraph, 'stackcollapse-perf.pl') : undefined;
const havePerl = perlScript !== undefined && existsSync(perlScript);

const cli = [process.execPath, join(root, 'bin', 'run.js'), 'collapse'];
const ours = { seconds: [], cpu: [], rss: [] };
const startup = { seconds: [], cpu: [], rss: [] };
const version = { seconds: [], cpu: [], rss: [] };
const nodeAlone = { seconds: [], cpu: [], rss: [] };
const perl = { seconds: [], cpu: [], rss: [] };
const push = (into, r) => (into.seconds.push(r.seconds), into.cpu.push(r.cpu), into.rss.push(r.rssKb));
let identical;
for (let i = 0; i < RUNS; i++) {
  const a = run(cli[0], [...cli.slice(1), input]);
  push(ours, a);
  push(startup, run(cli[0], [...cli.slice(1), small]));
  push(version, run(cli[0], [cli[1], '--version']));
  push(nodeAlone, run(process.execPath, ['-e', '0']));
  if (havePerl) {
    const b = run('perl', [perlScript, input]);
    push(perl, b);
    if (identical === undefined) identical = a.stdout.equals(b.stdout);
  }
}

// Library, cold: a fresh process per run, timing collapse() + folded lines only.
const libraryScript = `
  const { collapse } = await import(${JSON.stringify(join(root, 'dist', 'collapse', 'index.js'))});
  const { openInputChunks } = await import(${JSON.stringify(join(root, 'dist', 'io', 'lines.js'))});
  const { foldedLines } = await import(${JSON.stringify(join(root, 'dist', 'profile', 'folded.js'))});
  const times = [];
  for (let i = 0; i < Number(process.argv[1]); i++) {
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    const source = await openInputChunks(${JSON.stringify(input)});
    const lines = foldedLines(await collapse(source.chunks, source.name));
    if (lines.length === 0) throw new Error('no output');
    const used = process.cpuUsage(cpu);
    times.push([Number(process.hrtime.bigint() - started) / 1e9, (used.user + used.system) / 1e6]);
  }
  console.log(JSON.stringify(times));`;
const library = (runs) => JSON.parse(spawnSync(process.execPath, ['--input-type=module', '-e', libraryScript, String(runs)], { encoding: 'utf8' }).stdout);
const cold = { seconds: [], cpu: [] };
for (let i = 0; i < RUNS; i++) {
  const [[seconds, cpu]] = library(1);
  cold.seconds.push(seconds);
  cold.cpu.push(cpu);
}
const warmRuns = library(RUNS + 1).slice(1);
const warm = { seconds: warmRuns.map((r) => r[0]), cpu: warmRuns.map((r) => r[1]) };

const s = (x) => `${x.toFixed(3)} s`;
const rss = (kb) => (Number.isFinite(kb) ? `${(kb / 1024).toFixed(0)} MiB peak RSS` : 'peak RSS n/a');
/** One tool's medians as a cell: wall, CPU, throughput over `size` MiB when given, peak RSS when measured. */
const figures = (m, size) =>
  [`${s(median(m.seconds))} wall`, `${s(median(m.cpu))} CPU`, size ? `${(size / median(m.seconds)).toFixed(1)} MiB/s` : undefined, m.rss ? rss(median(m.rss)) : undefined]
    .filter(Boolean)
    .join(', ');
const ratios = (peer, m) => `${(median(peer.seconds) / median(m.seconds)).toFixed(1)}× / ${(median(peer.cpu) / median(m.cpu)).toFixed(1)}× (wall / CPU)`;
const TARGET = 20;
const againstPerl = (what, m, readme) => ({
  what,
  ours: figures(m, mib),
  peer: havePerl ? `stackcollapse-perf.pl: ${figures(perl, mib)}` : `stackcollapse-perf.pl absent (not in ${flamegraph}; set FLAMEGRAPH_DIR)`,
  ratio: havePerl ? ratios(perl, m) : undefined,
  target: `≥ ${TARGET}× faster`,
  met: havePerl ? median(perl.seconds) / median(m.seconds) >= TARGET : undefined,
  readme,
});
const againstNode = (what, m) => {
  const ratio = median(m.seconds) / median(nodeAlone.seconds);
  return { what, ours: figures(m), peer: `node -e 0 (the same rounds): ${figures(nodeAlone)}`, ratio: `${ratio.toFixed(2)}× node -e 0 (wall)`, target: '≤ 2× node -e 0', met: ratio <= 2 };
};
const rows = [
  againstPerl(`profile collapse, whole command, ${mib.toFixed(1)} MiB perf script`, ours, `collapse of a ${mib.toFixed(1)} MiB \`perf script\``),
  againstNode('profile collapse start-up (15 KB input)', startup),
  againstNode('profile --version', version),
  againstPerl('collapse() library, cold (fresh process)', cold),
  againstPerl('collapse() library, warm (after one run)', warm),
];
const notes = [
  `Corpus: ${corpus} (${mib.toFixed(1)} MiB, ${readFileSync(input).toString('latin1').split('\n').length} lines); medians of ${RUNS} alternating runs; CPU is user + sys of all threads; peak RSS from GNU time.`,
  havePerl ? `Output identical to stackcollapse-perf.pl: ${identical ? 'yes' : 'NO'}.` : 'stackcollapse-perf.pl absent: nothing to compare the output with.',
];

// 400 MB: the corpus ten times over, on threads, on one part, and by the script.
let bigIdentical = true;
if (BIG_RUNS > 0) {
  const big = join(work, 'perf-script-mixed-x10.txt');
  const once = readFileSync(input);
  writeFileSync(big, Buffer.concat(Array.from({ length: 10 }, () => once)));
  const bigMib = statSync(big).size / (1 << 20);
  const threads = { seconds: [], cpu: [], rss: [] };
  const allThreads = { seconds: [], cpu: [], rss: [] };
  const onePart = { seconds: [], cpu: [], rss: [] };
  const bigPerl = { seconds: [], cpu: [], rss: [] };
  const loads = [];
  const bigBytes = statSync(big).size;
  // Parts as the command cuts them on an idle machine, forced whatever the load.
  const idlePartBytes = Math.ceil(bigBytes / (Math.max(2, Math.min(availableParallelism(), PARALLEL_DEFAULTS.maxThreads)) * PARALLEL_DEFAULTS.partsPerThread));
  for (let i = 0; i < BIG_RUNS; i++) {
    loads.push(loadavg()[0].toFixed(1));
    const a = run(cli[0], [...cli.slice(1), big]);
    push(threads, a);
    const forced = run(cli[0], [...cli.slice(1), '--parallel-part-bytes', String(idlePartBytes), big]);
    push(allThreads, forced);
    const b = run(cli[0], [...cli.slice(1), '--parallel-part-bytes', String(bigBytes), big]);
    push(onePart, b);
    bigIdentical &&= a.stdout.equals(b.stdout) && a.stdout.equals(forced.stdout);
    if (havePerl) {
      const c = run('perl', [perlScript, big]);
      push(bigPerl, c);
      bigIdentical &&= a.stdout.equals(c.stdout);
    }
  }
  const BIG_TARGET = 10;
  const bigAgainstPerl = (what, m) => ({
    what,
    ours: figures(m, bigMib),
    peer: havePerl ? `stackcollapse-perf.pl: ${figures(bigPerl, bigMib)}` : `stackcollapse-perf.pl absent (not in ${flamegraph}; set FLAMEGRAPH_DIR)`,
    ratio: havePerl ? ratios(bigPerl, m) : undefined,
    target: `≥ ${BIG_TARGET}× faster`,
    met: havePerl ? median(bigPerl.seconds) / median(m.seconds) >= BIG_TARGET : undefined,
  });
  rows.push(bigAgainstPerl(`profile collapse, ${bigMib.toFixed(0)} MiB (the corpus ten times), threads on the cores the load leaves free (${availableParallelism()} cores)`, threads));
  rows.push(bigAgainstPerl(`profile collapse, ${bigMib.toFixed(0)} MiB, threads on every core whatever the load`, allThreads));
  rows.push(bigAgainstPerl(`profile collapse, ${bigMib.toFixed(0)} MiB, one part (one worker thread)`, onePart));
  notes.push(
    `${bigMib.toFixed(0)} MiB rows: medians of ${BIG_RUNS} (COLLAPSE_BENCH_BIG_RUNS); 1-minute load average before each round ${loads.join(', ')}; output identical (threads, one part${havePerl ? ', stackcollapse-perf.pl' : ''}): ${bigIdentical ? 'yes' : 'NO'}.`,
  );
}
emit({ title: 'collapse', rows, notes });
rmSync(work, { recursive: true, force: true });
if ((havePerl && !identical) || !bigIdentical) process.exit(1);
