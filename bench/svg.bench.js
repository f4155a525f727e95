#!/usr/bin/env node
// SVG flame graph of a synthetic 200k-distinct-stack folded file (depth 10–60, ~244 MB, fixed
// seed), ours (`writeSvgFromFolded`, the folded fast path, in a fresh process per run) against FlameGraph's flamegraph.pl from $FLAMEGRAPH_DIR (default ../shared/peers/FlameGraph). Checks that both draw the same
// frames (the multiset of rect titles) and hands its row to bench/report.js.
//   npm run bench -- svg        SVG_BENCH_RUNS=5 (ours), SVG_BENCH_PEER_RUNS=1 (flamegraph.pl, ~40 s each)
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { emit } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist');

if (process.argv[2] === '--render') {
  // One measured run of ours, in its own process so that each run starts cold.
  const [input, output] = process.argv.slice(3);
  const { writeSvgFromFolded } = await import(pathToFileURL(join(dist, 'render', 'svg', 'index.js')).href);
  const { writeFileAtomic } = await import(pathToFileURL(join(dist, 'output', 'sink.js')).href);
  await writeFileAtomic(output, (sink) => writeSvgFromFolded(createReadStream(input), input, sink));
  process.exit(0);
}

const STACKS = 200_000;
const RUNS = Number(process.env.SVG_BENCH_RUNS ?? 5);
const PEER_RUNS = Number(process.env.SVG_BENCH_PEER_RUNS ?? 1);

/** Writes the synthetic folded file. Names share one width so flamegraph.pl's line sort merges exactly as a tree does. */
async function generate(path) {
  let state = 20240601;
  const random = (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const high = state >>> 16;
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (((high << 16) | (state >>> 16)) >>> 0) % n;
  };
  const pad = (n, width) => String(n).padStart(width, '0');
  const out = createWriteStream(path);
  const seen = new Set();
  let batch = [];
  let lines = 0;
  while (lines < STACKS) {
    const depth = 10 + (random(51) % 51);
    const frames = [];
    for (let d = 0; d < depth; d++) {
      // Few names near the root, many towards the leaves: a realistic, mostly shared tree.
      const choices = Math.min(3 + d * d * 4, 20000);
      const id = random(choices) % choices;
      frames.push(`ns${pad(id % 97, 2)}::Class${pad(id % 997, 3)}::method${pad(id, 5)}_impl${d % 7 === 6 ? '_[k]' : ''}`);
    }
    const stack = frames.join(';');
    if (seen.has(stack)) continue;
    seen.add(stack);
    batch.push(`${stack} ${1 + (random(100) % 100 < 90 ? random(20) % 20 : random(2000) % 2000)}\n`);
    lines++;
    if (batch.length === 2000) {
      if (!out.write(batch.join(''))) await new Promise((resolve) => out.once('drain', resolve));
      batch = [];
    }
  }
  out.end(batch.join(''));
  await new Promise((resolve, reject) => out.on('finish', resolve).on('error', reject));
}

// Wall time and CPU time (user + system, from /usr/bin/time when present): on a shared 2-core VM
// the wall time swings with whatever else runs, the CPU time much less.
function time(command, args, captureStdout) {
  const timer = existsSync('/usr/bin/time');
  const [cmd, argv] = timer ? ['/usr/bin/time', ['-f', 'BENCHTIME %U %S', command, ...args]] : [command, args];
  const start = process.hrtime.bigint();
  const result = spawnSync(cmd, argv, { stdio: ['ignore', captureStdout ? 'pipe' : 'inherit', 'pipe'], maxBuffer: 1 << 30 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  const cpu = /BENCHTIME ([\d.]+) ([\d.]+)/.exec(result.stderr.toString());
  return { seconds, cpu: cpu ? Number(cpu[1]) + Number(cpu[2]) : undefined, stdout: result.stdout };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const titles = (svg) => [...svg.matchAll(/<title>([^<]*)<\/title>\s*<rect /g)].map((m) => m[1]).sort();

const dir = mkdtempSync(join(tmpdir(), 'profile-svg-bench-'));
try {
  const input = join(dir, 'big.folded');
  const startGen = Date.now();
  await generate(input);
  const size = statSync(input).size;
  console.error(`generated ${STACKS} distinct stacks, ${(size / 1e6).toFixed(0)} MB in ${((Date.now() - startGen) / 1000).toFixed(1)} s`);

  const ours = [];
  const ourCpu = [];
  const ourSvg = join(dir, 'ours.svg');
  for (let i = 0; i < RUNS; i++) {
    const run = time(process.execPath, [fileURLToPath(import.meta.url), '--render', input, ourSvg]);
    ours.push(run.seconds);
    if (run.cpu !== undefined) ourCpu.push(run.cpu);
  }
  const ourBytes = statSync(ourSvg).size;
  const ourTitles = titles(readFileSync(ourSvg, 'utf8'));

  // FlameGraph's scripts beside the project (../shared/peers/FlameGraph) unless FLAMEGRAPH_DIR says where.
  const flamegraphDir = process.env.FLAMEGRAPH_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'peers', 'FlameGraph');
  const flamegraph = existsSync(join(flamegraphDir, 'flamegraph.pl')) ? join(flamegraphDir, 'flamegraph.pl') : undefined;
  const peer = [];
  const peerCpu = [];
  let peerBytes;
  let same;
  if (flamegraph && existsSync(flamegraph)) {
    let svg;
    for (let i = 0; i < PEER_RUNS; i++) {
      const run = time('perl', [flamegraph, input], true);
      peer.push(run.seconds);
      if (run.cpu !== undefined) peerCpu.push(run.cpu);
      svg = run.stdout;
    }
    peerBytes = svg.length;
    const theirTitles = titles(svg.toString('utf8'));
    const differ = ourTitles.length !== theirTitles.length || ourTitles.some((title, i) => title !== theirTitles[i]);
    same = differ ? `**no** (${ourTitles.length} vs ${theirTitles.length} frames)` : `yes (${ourTitles.length} frames)`;
  }

  const mb = size / 1e6;
  const fmt = (values) => (values.length ? `${median(values).toFixed(2)} s` : 'n/a');
  const speedUp = (theirs, mine) => (theirs.length && mine.length ? median(theirs) / median(mine) : undefined);
  const wallUp = speedUp(peer, ours);
  const cpuUp = speedUp(peerCpu, ourCpu);
  const TARGET = 10;
  emit({
    title: 'SVG flame graph',
    rows: [
      {
        what: `SVG of a synthetic folded file: ${STACKS.toLocaleString('en')} distinct stacks, depth 10–60, ${mb.toFixed(0)} MB`,
        ours: `${fmt(ours)} wall, ${fmt(ourCpu)} CPU, ${(ourBytes / 1e6).toFixed(2)} MB SVG`,
        peer: peer.length ? `flamegraph.pl: ${fmt(peer)} wall, ${fmt(peerCpu)} CPU, ${(peerBytes / 1e6).toFixed(2)} MB SVG` : 'flamegraph.pl absent (set FLAMEGRAPH_DIR)',
        ratio: wallUp === undefined ? undefined : `${wallUp.toFixed(1)}× / ${cpuUp === undefined ? '—' : `${cpuUp.toFixed(1)}×`} (wall / CPU)`,
        target: `≥ ${TARGET}× faster, same frames`,
        met: wallUp === undefined ? undefined : wallUp >= TARGET && same?.startsWith('yes') === true,
        readme: 'SVG flame graph of 200k distinct stacks',
      },
    ],
    notes: [
      `Ours: \`writeSvgFromFolded\` in a fresh process per run, median of ${RUNS} (SVG_BENCH_RUNS): ${ours.map((x) => x.toFixed(2)).join(', ')} s wall; flamegraph.pl: ${peer.length ? `${peer.map((x) => x.toFixed(2)).join(', ')} s wall, ${PEER_RUNS} run${PEER_RUNS === 1 ? '' : 's'} (SVG_BENCH_PEER_RUNS; each takes minutes)` : 'not run'}. CPU is user + sys from GNU time.`,
      `Same frames as flamegraph.pl (rect titles compared): ${same ?? 'not compared'}.`,
    ],
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
