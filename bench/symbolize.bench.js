// `npm run bench -- symbolize`: 100k distinct addresses (20k kernel, 30k libc with libc6-dbg,
// 50k in the node binary) through symbolize(), with and without inlined frames, cold (empty
// on-disk cache; the OS page cache is warm in every case) and warm (on-disk cache filled by an
// earlier run), medians of 5 runs, each in a fresh process, timing symbolize() only.
// Peers: eu-addr2line -f -i and addr2line -f -i on the same user addresses, given all at once on
// standard input; they take minutes on 100k, so they run on a random sample per binary and their
// per-address cost is extrapolated to the same 80k user addresses (kernel addresses excluded for
// them; ours include them). Memory: peak RSS of the symbolizing process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 5;
const COUNTS = { kernel: 20_000, libc: 30_000, node: 50_000 };
const PEER_SAMPLE = 1000;

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
    peers[name] = { path: mapping.path, vaddrs: vaddrs.slice(0, PEER_SAMPLE) };
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
  return r.error ? undefined : seconds / vaddrs.length;
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
      });
    }
  }
  const ours = rows[0].seconds;
  const lines = ['## symbolize', '', `${rows[0].addresses} distinct addresses (${COUNTS.kernel} kernel, ${COUNTS.libc} libc, ${COUNTS.node} node); medians of ${RUNS} runs.`, ''];
  lines.push(`load average at the start: ${loadavg()[0].toFixed(2)} on ${cpus().length} CPUs (wall times inflate with load; CPU seconds = user + sys of the symbolizing process).`, '');
  lines.push('| tool | seconds | CPU seconds | vs ours (inlines, cold) | peak RSS MB | frames left as module+offset |', '| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) lines.push(`| ${r.what} | ${r.seconds.toFixed(3)} | ${r.cpu.toFixed(3)} | ${(r.seconds / ours).toFixed(2)}× | ${r.rss.toFixed(0)} | ${r.unnamed} |`);
  for (const [tool, args] of [['eu-addr2line', ['-f', '-i']], ['addr2line', ['-f', '-i']]]) {
    let total = 0;
    let ok = true;
    for (const [name, info] of Object.entries(peers)) {
      const perAddress = peer(tool, args, info.path, info.vaddrs);
      if (perAddress === undefined) ok = false;
      else total += perAddress * COUNTS[name];
    }
    if (!ok) lines.push(`| ${tool} ${args.join(' ')} | absent | | | | |`);
    else lines.push(`| ${tool} ${args.join(' ')} (extrapolated from ${PEER_SAMPLE} addresses per binary to ${userAddresses} user addresses) | ${total.toFixed(1)} | | ${(total / ours).toFixed(0)}× slower (${(total / rows[1].seconds).toFixed(0)}× vs warm) | | |`);
  }
  console.log(lines.join('\n'));
}

if (process.argv[2] === '--worker') await worker(process.argv[3] === 'true', process.argv[4] || undefined);
else await main();
