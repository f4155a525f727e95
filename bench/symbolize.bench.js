// `npm run bench -- symbolize`: 100k distinct addresses (20k kernel, 30k libc with libc6-dbg,
// 50k in the node binary) through symbolize(), with and without inlined frames, cold (empty
// on-disk cache; the OS page cache is warm in every case) and warm (on-disk cache filled by an
// earlier run), medians of 5 runs, each in a fresh process, timing symbolize() only.
// Peers: eu-addr2line -f -i and addr2line -f -i on the same user addresses, given all at once on
// standard input (kernel addresses excluded for them; ours include them). eu-addr2line needs about
// 2 minutes for node's 50k alone, so each tool runs per binary on the first 1,000 and the first
// 2,000 of its addresses (a random sample: the addresses are drawn at random): the difference is
// the cost of 1,000 more addresses, what is left of the 1,000 run is its fixed cost (process start,
// reading symbols and DWARF), and a binary's figure is fixed cost + marginal cost × its count.
// Each timing is the median of PEER_RUNS runs. Memory: peak RSS of the symbolizing process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit } from './report.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 5;
const COUNTS = { kernel: 20_000, libc: 30_000, node: 50_000 };
const PEER_SAMPLE = 1000;
const PEER_RUNS = 3;

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function worker(inline, cacheDirectory) {
  const { captureProcess } = await import(join(root, 'dist/host/index.js'));
  const { openFile } = await import(join(root, 'dist/host/index.js'));
  const { ElfFile } = await import(join(root, 'dist/symbolize/elf/file.js'));
  const { symbolize } = await import(join(root, 'dist/symbolize/index.js'));
  const snapshot = captureProcess(process.pid);
  const random = rng(42);
  const samples = [];
  const peers = {};
  const nodePath = realpathSync(process.execPath);
  for (const [name, match] of [['libc', (p) => /\/libc\.so\.6$/.test(p)], ['node', (p) => p === nodePath]]) {
    const mapping = snapshot.mappings.filter((m) => m.perms[2] === 'x' && match(m.path)).sort((a, b) => Number(b.end - b.start - (a.end - a.start)))[0];
    if (!mapping) continue;
    const elf = new ElfFile(openFile(mapping.path));
    const size = Number(mapping.end - mapping.start);
    const seen = new Set();
    const vaddrs = [];
    while (seen.size < Math.min(COUNTS[name], size)) {
      const at = Math.floor(random() * size);
      if (seen.has(at)) continue;
      seen.add(at);
      const runtime = mapping.start + BigInt(at);
      samples.push({ pid: process.pid, tid: process.pid, comm: 'bench', userStack: [runtime], kernelStack: [], count: 1 });
      vaddrs.push(elf.vaddrOfOffset(Number(mapping.offset) + at));
    }
    peers[name] = { path: mapping.path, vaddrs: vaddrs.filter((v) => v !== undefined).slice(0, 2 * PEER_SAMPLE) };
  }
  const kallsyms = readFileSync('/proc/kallsyms', 'utf8').split('\n').filter((l) => / [tT] /.test(l) && !l.startsWith('0000000000000000'));
  const kernel = new Set();
  while (kernel.size < COUNTS.kernel && kallsyms.length > 0) kernel.add(BigInt(`0x${kallsyms[Math.floor(random() * kallsyms.length)].slice(0, 16)}`) + BigInt(Math.floor(random() * 16)));
  for (const address of kernel) samples.push({ pid: process.pid, tid: process.pid, comm: 'bench', userStack: [], kernelStack: [address], count: 1 });
  const raw = { samples, processes: new Map([[process.pid, snapshot]]), metadata: {} };
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const profile = await symbolize(raw, { inline, cacheDirectory, debuginfodUrls: [] });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const unnamed = profile.frames.filter((f) => /^\[.*\+0x[0-9a-f]+\]$|^0x/.test(f.name)).length;
  console.log(JSON.stringify({ seconds, cpuSeconds, addresses: samples.length, frames: profile.frames.length, unnamed, maxRssMb: process.resourceUsage().maxRSS / 1024, peers }));
}

function runWorker(inline, cacheDirectory) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--worker', String(inline), cacheDirectory ?? ''], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`worker failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function peer(tool, args, path, vaddrs) {
  const which = spawnSync('sh', ['-c', `command -v ${tool}`]);
  if (which.status !== 0) return undefined;
  const input = vaddrs.map((v) => `0x${v.toString(16)}`).join('\n') + '\n';
  const started = process.hrtime.bigint();
  const r = spawnSync(tool, [...args, '-e', path], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return r.error || r.status !== 0 ? undefined : seconds;
}

/** A peer's seconds for `count` addresses of one binary: fixed + marginal cost, from runs on 1k and 2k. */
function peerEstimate(tool, args, path, vaddrs, count) {
  const time = (n) => {
    const runs = [];
    for (let i = 0; i < PEER_RUNS; i++) runs.push(peer(tool, args, path, vaddrs.slice(0, n)));
    return runs.includes(undefined) ? undefined : median(runs);
  };
  const one = time(PEER_SAMPLE);
  const two = time(2 * PEER_SAMPLE);
  if (one === undefined || two === undefined) return undefined;
  const marginal = Math.max(0, (two - one) / PEER_SAMPLE);
  const fixed = Math.max(0, one - marginal * PEER_SAMPLE);
  return { seconds: fixed + marginal * count, fixed, marginal };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const rows = [];
  let peers;
  let userAddresses = 0;
  for (const inline of [true, false]) {
    for (const warm of [false, true]) {
      const results = [];
      let dir;
      if (warm) {
        dir = mkdtempSync(join(tmpdir(), 'symbolize-bench-'));
        runWorker(inline, dir);
      }
      for (let i = 0; i < RUNS; i++) {
        const cold = warm ? undefined : mkdtempSync(join(tmpdir(), 'symbolize-bench-'));
        results.push(runWorker(inline, warm ? dir : cold));
        if (cold) rmSync(cold, { recursive: true, force: true });
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
      peers ??= results[0].peers;
      userAddresses = results[0].addresses - COUNTS.kernel;
      rows.push({
        what: `profile symbolize, ${inline ? 'with' : 'without'} inlines, ${warm ? 'warm (on-disk cache)' : 'cold'}`,
        seconds: median(results.map((r) => r.seconds)),
        cpu: median(results.map((r) => r.cpuSeconds)),
        rss: median(results.map((r) => r.maxRssMb)),
        unnamed: results[0].unnamed,
        addresses: results[0].addresses,
        inline,
        warm,
      });
    }
  }
  const peerTimes = [];
  for (const [tool, args] of [['eu-addr2line', ['-f', '-i']], ['addr2line', ['-f', '-i']]]) {
    let total = 0;
    let ok = true;
    const parts = [];
    for (const [name, info] of Object.entries(peers)) {
      const estimate = peerEstimate(tool, args, info.path, info.vaddrs, COUNTS[name]);
      if (estimate === undefined) ok = false;
      else {
        total += estimate.seconds;
        parts.push(`${name} ${estimate.fixed.toFixed(2)} s + ${(estimate.marginal * 1e3).toFixed(3)} ms × ${COUNTS[name]}`);
      }
    }
    peerTimes.push({ tool: `${tool} ${args.join(' ')}`, seconds: ok ? total : undefined, parts });
  }
  const [eu] = peerTimes;
  const peerCell = peerTimes.map((p) => `${p.tool}: ${p.seconds === undefined ? 'absent' : `${p.seconds.toFixed(1)} s`}`).join('; ');
  const TARGET = { cold: 1, warm: 0.3, times: 100 };
  emit({
    title: 'symbolize',
    rows: rows.map((r) => {
      const limit = r.warm ? TARGET.warm : TARGET.cold;
      const times = eu.seconds === undefined ? undefined : eu.seconds / r.seconds;
      return {
        what: r.what,
        ours: `${r.seconds.toFixed(3)} s wall, ${r.cpu.toFixed(3)} s CPU, ${r.rss.toFixed(0)} MB peak RSS, ${r.unnamed} frames left as module+offset`,
        peer: peerCell,
        ratio: peerTimes.map((p) => (p.seconds === undefined ? '—' : `${(p.seconds / r.seconds).toFixed(0)}×`)).join(' / '),
        target: `< ${limit} s; ≥ ${TARGET.times}× faster than ${eu.tool}`,
        met: times === undefined ? undefined : r.seconds < limit && times >= TARGET.times,
        readme: r.inline ? `symbolizing ${rows[0].addresses.toLocaleString('en')} distinct addresses, ${r.warm ? 'warm' : 'cold'}` : undefined,
      };
    }),
    notes: [
      `${rows[0].addresses} distinct addresses (${COUNTS.kernel} kernel, ${COUNTS.libc} libc, ${COUNTS.node} node); symbolize() timed in a fresh process per run, medians of ${RUNS}; ${cpus().length} CPUs; CPU is user + sys of the symbolizing process (V8's collector and compiler threads run beside the main one).`,
      `Peers: timed per binary on the first ${PEER_SAMPLE} and the first ${2 * PEER_SAMPLE} of its (randomly drawn) addresses, given at once on standard input, medians of ${PEER_RUNS}; the difference is the cost of ${PEER_SAMPLE} more addresses, the rest of the ${PEER_SAMPLE} run the fixed cost (process start, symbols, DWARF), and the figure is fixed + marginal cost × the binary's count, for the ${userAddresses} user addresses (no kernel addresses for them): ${peerTimes.map((p) => `${p.tool}: ${p.parts.join(', ') || 'absent'}`).join('; ')}. Ratio: how many times faster than each.`,
    ],
  });
}

if (process.argv[2] === '--worker') await worker(process.argv[3] === 'true', process.argv[4] || undefined);
else await main();
