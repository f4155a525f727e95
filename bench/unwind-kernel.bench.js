#!/usr/bin/env node
// `npm run bench -- unwind`: what walking user stacks with unwind tables costs in the kernel,
// side by side with frame pointers and with perf's DWARF mode, on a deep workload (Debian's
// python3 in a JSON loop, no frame pointers), system-wide at 99 Hz, medians of REPS, alternating:
//  - BPF time per sample of `do_sample` (kernel.bpf_stats_enabled: run_time_ns / run_cnt) for
//    `--unwind fp` and `--unwind tables`;
//  - the workload's wall time under each profiler and under `perf record --call-graph dwarf`;
//  - the whole recorder (BPF time + the profiler process's CPU) as a share of one CPU, twice: while
//    the workload runs (its process starts under the recorder: its tables and symbols are loaded
//    then), and steady, over STEADY_SECONDS of a workload that was running before the recorder;
//  - the kernel memory of the recorder's maps (bytes_memlock) while node, python3 and libc are loaded.
// Environment: PROFILE_BENCH_REPS (5), PROFILE_BENCH_ITERATIONS (python loop size, 4000 ≈ 3 s). Needs root.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit } from './report.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'bench', 'out');
const BIN = join(ROOT, 'bin', 'run.js');
const REPS = Number(process.env.PROFILE_BENCH_REPS ?? 5);
const ITERATIONS = Number(process.env.PROFILE_BENCH_ITERATIONS ?? 4000);
const CPUS = availableParallelism();
const TICK_NS = 1e9 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const HZ = 99;
const STEADY_SECONDS = Number(process.env.PROFILE_BENCH_STEADY_SECONDS ?? 30);
/** How long after attaching the steady window starts: the first harvests and the first (budgeted) warming come before. */
const SETTLE_SECONDS = Number(process.env.PROFILE_BENCH_SETTLE_SECONDS ?? 10);

if (process.getuid?.() !== 0) {
  console.log('## Unwinding in the kernel\n\nneeds root (BPF); not measured');
  process.exit(0);
}
mkdirSync(OUT, { recursive: true });
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const WORKLOAD = `
import json
d = {'a': [{'x': i, 'y': str(i) * 3, 'z': [i, {'w': i}]} for i in range(300)]}
def deep(n):
    if n == 0:
        for _ in range(${ITERATIONS}):
            json.loads(json.dumps(d))
        return 0
    return deep(n - 1)
deep(30)
`;

const PROFILERS = {
  'profile record --unwind fp': () => [process.execPath, BIN, 'record', '-F', String(HZ), '--unwind', 'fp', '-o', join(OUT, 'unwind-fp.folded')],
  'profile record --unwind tables': () => [process.execPath, BIN, 'record', '-F', String(HZ), '--unwind', 'tables', '-o', join(OUT, 'unwind-tables.folded')],
  'perf record --call-graph dwarf': have('perf') ? () => ['perf', 'record', '-q', '-a', '-F', String(HZ), '--call-graph', 'dwarf', '-o', join(OUT, 'perf-dwarf.data')] : undefined,
};

function perfEventFds(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).includes('perf_event');
      } catch {
        return false;
      }
    }).length;
  } catch {
    return 0;
  }
}

function cpuNs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_NS;
  } catch {
    return 0;
  }
}

const bpftool = (what) => JSON.parse(execFileSync('bpftool', [what, 'show', '-j'], { encoding: 'utf8' }) || '[]');

/** The recorder's maps: created after `mark`, named as in bpf/profile.bpf.c (bpftool shows 15 characters). */
const OUR_MAPS = /^(stacks_|fallback_stac|user_stacks_|counts_|unwind_rows|process_unwind|walk_scratch|counters|targets|seen|events|grace|profile_b)/;

async function startProfiler(argv) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'ignore'] });
  const deadline = Date.now() + 60_000;
  while (perfEventFds(child.pid) === 0 && Date.now() < deadline) await sleep(20);
  await sleep(1500); // libc, python3 and node tables placed before the workload starts
  return child;
}

async function stop(child) {
  const done = new Promise((r) => child.on('close', r));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  await done;
  clearTimeout(timer);
}

/** The recorder's share of one CPU over STEADY_SECONDS while a workload started before it keeps running. */
async function steadyShare(argv) {
  const workload = spawn('python3', ['-c', WORKLOAD.replace(`range(${ITERATIONS})`, 'iter(int, 1)')], { stdio: 'ignore' });
  try {
    await sleep(500);
    const mark = Math.max(0, ...bpftool('prog').map((p) => p.id));
    const profiler = await startProfiler(argv);
    await sleep(SETTLE_SECONDS * 1000); // the first harvests and the symbol warming of what was running
    const progs = () => bpftool('prog').filter((p) => p.id > mark && p.name === 'do_sample');
    const bpfNs = () => progs().reduce((s, p) => s + (p.run_time_ns ?? 0), 0);
    const bpfRuns = () => progs().reduce((s, p) => s + (p.run_cnt ?? 0), 0);
    const cpuBefore = cpuNs(profiler.pid);
    const bpfBefore = bpfNs();
    const runsBefore = bpfRuns();
    const began = process.hrtime.bigint();
    await sleep(STEADY_SECONDS * 1000);
    const windowNs = Number(process.hrtime.bigint() - began);
    const cpu = cpuNs(profiler.pid) - cpuBefore;
    const bpf = bpfNs() - bpfBefore;
    const runs = bpfRuns() - runsBefore;
    await stop(profiler);
    return { share: (100 * (cpu + bpf)) / windowNs, process: (100 * cpu) / windowNs, bpf: (100 * bpf) / windowNs, perRunUs: runs > 0 ? bpf / runs / 1000 : NaN };
  } finally {
    workload.kill('SIGKILL');
  }
}

function runWorkload() {
  const began = process.hrtime.bigint();
  execFileSync('python3', ['-c', WORKLOAD]);
  return Number(process.hrtime.bigint() - began) / 1e6;
}

async function main() {
  const statsBefore = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
  const results = { none: [] };
  const memory = {};
  try {
    for (let rep = 0; rep < REPS; rep++) {
      results.none.push({ wall: runWorkload() });
      for (const [name, make] of Object.entries(PROFILERS)) {
        if (!make) continue;
        const mark = Math.max(0, ...bpftool('prog').map((p) => p.id));
        const mapMark = Math.max(0, ...bpftool('map').map((m) => m.id));
        const profiler = await startProfiler(make());
        const cpuBefore = cpuNs(profiler.pid);
        const before = bpftool('prog').filter((p) => p.id > mark && p.name === 'do_sample');
        const wall = runWorkload();
        const cpu = cpuNs(profiler.pid) - cpuBefore;
        const after = bpftool('prog').filter((p) => p.id > mark && p.name === 'do_sample');
        const sum = (progs, key) => progs.reduce((s, p) => s + (p[key] ?? 0), 0);
        const runNs = sum(after, 'run_time_ns') - sum(before, 'run_time_ns');
        const runs = sum(after, 'run_cnt') - sum(before, 'run_cnt');
        if (name.startsWith('profile')) {
          const maps = bpftool('map').filter((m) => m.id > mapMark && OUR_MAPS.test(m.name ?? ''));
          memory[name] = maps.reduce((s, m) => s + (m.bytes_memlock ?? 0), 0);
        }
        await stop(profiler);
        const steady = name.startsWith('profile') ? await steadyShare(make()) : undefined;
        (results[name] ??= []).push({ wall, cpu, runNs, runs, steady });
        process.stderr.write(`rep ${rep} ${name}: ${wall.toFixed(0)} ms, ${runs} runs, ${(runNs / Math.max(1, runs) / 1000).toFixed(2)} µs/sample, process ${(cpu / 1e6).toFixed(0)} ms${steady ? `, steady ${steady.share.toFixed(3)} % (process ${steady.process.toFixed(3)} %, BPF ${steady.bpf.toFixed(3)} %)` : ''}\n`);
      }
    }
  } finally {
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', statsBefore);
  }
  const base = median(results.none.map((r) => r.wall));
  const TABLES = 'profile record --unwind tables';
  const FP = 'profile record --unwind fp';
  const figures = {};
  for (const name of Object.keys(PROFILERS)) {
    const r = results[name];
    if (!r) continue;
    const wall = median(r.map((x) => x.wall));
    const ours = name.startsWith('profile');
    figures[name] = {
      slowdown: `${(((wall - base) / base) * 100).toFixed(1)} % (${wall.toFixed(0)} ms)`,
      perSampleUs: ours ? median(r.map((x) => (x.runs > 0 ? x.runNs / x.runs / 1000 : NaN))) : undefined,
      recorder: ours
        ? `${median(r.map((x) => (100 * (x.runNs + x.cpu)) / (x.wall * 1e6))).toFixed(3)} %`
        : `${median(r.map((x) => (100 * x.cpu) / (x.wall * 1e6))).toFixed(3)} % (process only)`,
      steady: r.every((x) => x.steady) ? `${median(r.map((x) => x.steady.share)).toFixed(3)} % (process ${median(r.map((x) => x.steady.process)).toFixed(3)} %)` : undefined,
      steadyUs: r.every((x) => x.steady) ? median(r.map((x) => x.steady.perRunUs)) : undefined,
      memory: memory[name] === undefined ? undefined : `${(memory[name] / 2 ** 20).toFixed(1)} MiB`,
    };
  }
  const tables = figures[TABLES];
  const others = (key, format = (v) => v ?? '—') =>
    Object.keys(PROFILERS)
      .filter((name) => name !== TABLES)
      .map((name) => `${name}: ${figures[name] ? format(figures[name][key], name) : 'absent'}`)
      .join('; ');
  const us = (v) => (v === undefined ? 'no BPF' : `${v.toFixed(2)} µs`);
  const delta = tables && figures[FP] ? tables.perSampleUs - figures[FP].perSampleUs : undefined;
  const rows = [
    {
      what: 'BPF time per sample (python3, ~30 calls deep, no frame pointers)',
      ours: `--unwind tables: ${us(tables?.perSampleUs)}`,
      peer: others('perSampleUs', us),
      ratio: delta === undefined ? undefined : `${delta >= 0 ? '+' : ''}${delta.toFixed(2)} µs over frame pointers`,
      target: '≤ frame pointers + 3 µs',
      met: delta === undefined ? undefined : delta <= 3,
      readme: "walking python3's stacks without frame pointers, BPF time per sample",
    },
    {
      what: `BPF time per firing over the steady window (${STEADY_SECONDS} s; the idle CPU's filtered firings included)`,
      ours: `--unwind tables: ${tables?.steadyUs === undefined ? '—' : us(tables.steadyUs)}`,
      peer: others('steadyUs', (v) => (v === undefined ? '—' : us(v))),
      ratio: tables?.steadyUs !== undefined && figures[FP]?.steadyUs !== undefined ? `${(tables.steadyUs - figures[FP].steadyUs).toFixed(2)} µs over frame pointers` : undefined,
    },
    { what: `workload slowdown (no profiler: ${base.toFixed(0)} ms)`, ours: tables?.slowdown, peer: others('slowdown') },
    { what: 'recorder share of one CPU while the workload starts and runs (BPF + process)', ours: tables?.recorder, peer: others('recorder') },
    { what: `steady share of one CPU (BPF + process), ${STEADY_SECONDS} s from ${SETTLE_SECONDS} s after attaching`, ours: tables?.steady, peer: others('steady') },
    { what: 'kernel memory of the maps (node, python3 and libc loaded)', ours: tables?.memory, peer: others('memory') },
  ];
  emit({
    title: 'Unwinding in the kernel',
    rows,
    notes: [
      `Workload: python3 JSON loop 30 calls deep, ${ITERATIONS} iterations (PROFILE_BENCH_ITERATIONS); ${HZ} Hz system-wide on ${CPUS} CPUs; medians of ${REPS} (PROFILE_BENCH_REPS), alternating. Steady: ${STEADY_SECONDS} s of the same loop, running before the recorder started, from ${SETTLE_SECONDS} s after it attached.`,
      'BPF time: run_time_ns / run_cnt of do_sample (kernel.bpf_stats_enabled), a mean over every firing in the window, idle CPUs included.',
    ],
  });
}

await main();
