#!/usr/bin/env node
// `npm run bench -- record`: the cost of recording, side by side with perf, BCC and bpftrace.
//  1. Overhead on a CPU-bound 2-thread workload (fixtures/programs/spin2.c), system-wide at
//     99 and 999 Hz: workload wall time (median of REPS) and, exactly, BPF program time
//     (kernel.bpf_stats_enabled → run_time_ns / run_cnt) plus the profiler process's own CPU time
//     during the run, per sample and as a share of the machine.
//  2. Start-to-exit time of a SECONDS system-wide recording to written folded stacks, idle and
//     busy: profile record vs perf record + perf script + stackcollapse-perf.pl vs profile-bpfcc -f.
//  3. Peak RSS of a RSS_SECONDS system-wide recording on a busy host (node, python3, a gcc loop).
// Environment: PROFILE_BENCH_REPS (5), PROFILE_BENCH_SECONDS (10), PROFILE_BENCH_RSS_SECONDS (30),
// PROFILE_BENCH_WORK (workload size, 1000 ≈ 2 s of CPU per thread). Needs root.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit } from './report.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'bench', 'out');
const BIN = join(ROOT, 'bin', 'run.js');
const REPS = Number(process.env.PROFILE_BENCH_REPS ?? 5);
const SECONDS = Number(process.env.PROFILE_BENCH_SECONDS ?? 10);
const RSS_SECONDS = Number(process.env.PROFILE_BENCH_RSS_SECONDS ?? 30);
const WORK = process.env.PROFILE_BENCH_WORK ?? '1000';
const FLAMEGRAPH = process.env.FLAMEGRAPH_DIR ?? join(ROOT, '..', 'shared', 'peers', 'FlameGraph');
const CPUS = availableParallelism();
const TICK_NS = 1e9 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

if (process.getuid?.() !== 0) {
  console.log('## record\n\nneeds root (BPF); skipped');
  process.exit(0);
}
mkdirSync(OUT, { recursive: true });
const workload = join(OUT, 'spin2');
execFileSync('clang-14', ['-O1', '-fno-omit-frame-pointer', '-pthread', '-o', workload, join(ROOT, 'fixtures', 'programs', 'spin2.c')]);

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** System-wide profilers at `hz`: how to start one and stop it (SIGINT writes its output). */
const PROFILERS = {
  'profile record': (hz) => [process.execPath, BIN, 'record', '-F', String(hz), '-o', join(OUT, 'profile.folded')],
  'perf record -g': have('perf') ? (hz) => ['perf', 'record', '-q', '-a', '-g', '-F', String(hz), '-o', join(OUT, 'perf.data')] : undefined,
  'profile-bpfcc': have('profile-bpfcc') ? (hz) => ['profile-bpfcc', '-F', String(hz), '-f'] : undefined,
  bpftrace: have('bpftrace') ? (hz) => ['bpftrace', '-e', `profile:hz:${hz} { @[kstack, ustack, comm] = count(); }`] : undefined,
};

/** How each profiler's sampling program is named in `bpftool prog show` (perf has none). */
const PROGRAM_NAME = {
  'profile record': (n) => n === 'do_sample',
  'profile-bpfcc': (n) => n === 'do_perf_event',
  bpftrace: (n, hz) => n === String(hz) || n.startsWith('profile'),
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
    return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * TICK_NS;
  } catch {
    return 0;
  }
}

function bpfPrograms() {
  return JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' }) || '[]');
}

async function startProfiler(argv, output) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', output ?? 'ignore', 'ignore'] });
  const deadline = Date.now() + 60_000;
  while (perfEventFds(child.pid) === 0 && Date.now() < deadline) await sleep(20);
  await sleep(300);
  return child;
}

async function stop(child) {
  const done = new Promise((r) => child.on('close', r));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await done;
  clearTimeout(timer);
}

function runWorkload() {
  const began = process.hrtime.bigint();
  execFileSync(workload, [WORK]);
  return Number(process.hrtime.bigint() - began) / 1e6;
}

async function overhead() {
  const statsBefore = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
  const restore = () => {
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', statsBefore);
    process.exit(130);
  };
  process.once('SIGINT', restore);
  process.once('SIGTERM', restore);
  const rows = [];
  try {
    for (const hz of [99, 999]) {
      const walls = { none: [] };
      const exact = {};
      for (let rep = 0; rep < REPS; rep++) {
        walls.none.push(runWorkload());
        for (const [name, make] of Object.entries(PROFILERS)) {
          if (!make) continue;
          const mark = Math.max(0, ...bpfPrograms().map((p) => p.id));
          const profiler = await startProfiler(make(hz), name === 'profile-bpfcc' ? 'pipe' : undefined);
          profiler.stdout?.resume();
          const cpuBefore = cpuNs(profiler.pid);
          const wall = runWorkload();
          const cpu = cpuNs(profiler.pid) - cpuBefore;
          // By program name: other BPF users on the machine may load perf_event programs meanwhile.
          const progs = bpfPrograms().filter((p) => p.id > mark && p.type === 'perf_event' && PROGRAM_NAME[name]?.(p.name ?? '', hz));
          const runNs = progs.reduce((s, p) => s + (p.run_time_ns ?? 0), 0);
          const runs = progs.reduce((s, p) => s + (p.run_cnt ?? 0), 0);
          await stop(profiler);
          (walls[name] ??= []).push(wall);
          process.stderr.write(`${hz} Hz ${name} rep ${rep}: ${wall.toFixed(0)} ms, ${runs} runs, ${(runNs / Math.max(1, runs) / 1000).toFixed(2)} µs, cpu ${(cpu / 1e6).toFixed(0)} ms\n`);
          (exact[name] ??= []).push({ wall, cpu, runNs, runs });
        }
      }
      const base = median(walls.none);
      const measured = {};
      for (const name of Object.keys(PROFILERS)) {
        if (!PROFILERS[name]) continue;
        const m = exact[name];
        measured[name] = {
          wall: median(walls[name]),
          perSample: median(m.map((x) => (x.runs > 0 ? x.runNs / x.runs / 1000 : NaN))),
          bpfShare: median(m.map((x) => (100 * x.runNs) / (x.wall * 1e6 * CPUS))),
          cpuShare: median(m.map((x) => (100 * x.cpu) / (x.wall * 1e6 * CPUS))),
        };
      }
      rows.push(...overheadRows(hz, base, measured));
    }
  } finally {
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', statsBefore);
    process.off('SIGINT', restore);
    process.off('SIGTERM', restore);
  }
  return rows;
}

const OURS = 'profile record';
const percent = (x) => (Number.isNaN(x) ? 'n/a' : `${x.toFixed(3)} %`);
const micro = (x) => (Number.isNaN(x) ? 'n/a' : `${x.toFixed(2)} µs`);
/** The peers' figures in one cell: "name value; …", absent peers named as such. */
function peersCell(measured, format) {
  return Object.keys(PROFILERS)
    .filter((name) => name !== OURS)
    .map((name) => `${name}: ${measured[name] ? format(measured[name], name) : 'absent'}`)
    .join('; ');
}

/** Rows of one rate: workload wall time, BPF time per sample and share, our process's CPU share. */
function overheadRows(hz, base, measured) {
  const ours = measured[OURS];
  const peers = Object.entries(measured).filter(([name]) => name !== OURS).map(([, m]) => m);
  const processTarget = hz === 99 ? { target: '≤ 0.1 % of the machine', met: ours.cpuShare <= 0.1 } : { target: 'below every peer', met: peers.every((p) => ours.cpuShare < p.cpuShare) };
  const bpf = (m, name) => (name === 'perf record -g' ? 'no BPF' : micro(m.perSample));
  return [
    {
      what: `${hz} Hz: workload wall time (no profiler: ${(base / 1000).toFixed(2)} s)`,
      ours: `${(ours.wall / 1000).toFixed(2)} s`,
      peer: peersCell(measured, (m) => `${(m.wall / 1000).toFixed(2)} s`),
      ratio: `${(((ours.wall - base) / base) * 100).toFixed(1)} % over no profiler`,
    },
    {
      what: `${hz} Hz: BPF time per sample`,
      ours: micro(ours.perSample),
      peer: peersCell(measured, bpf),
      target: '≤ 3 µs',
      met: ours.perSample <= 3,
      readme: hz === 99 ? 'recording at 99 Hz, BPF time per sample' : undefined,
    },
    { what: `${hz} Hz: BPF share of the machine`, ours: percent(ours.bpfShare), peer: peersCell(measured, (m, name) => (name === 'perf record -g' ? 'no BPF' : percent(m.bpfShare))) },
    {
      what: `${hz} Hz: profiler process CPU, share of the machine`,
      ours: percent(ours.cpuShare),
      peer: peersCell(measured, (m) => percent(m.cpuShare)),
      ...processTarget,
      readme: hz === 99 ? 'recording at 99 Hz, profiler process CPU (share of the machine)' : undefined,
    },
  ];
}

function timed(script) {
  const began = process.hrtime.bigint();
  const result = spawnSync('sh', ['-c', script], { stdio: ['ignore', 'ignore', 'ignore'] });
  if (result.status !== 0) return NaN;
  return Number(process.hrtime.bigint() - began) / 1e9;
}

async function endToEnd() {
  const stackcollapse = join(FLAMEGRAPH, 'stackcollapse-perf.pl');
  const tools = {
    'profile record': `node ${BIN} record --duration ${SECONDS} -o ${OUT}/e2e-profile.folded`,
    'perf record + script + stackcollapse-perf.pl':
      have('perf') && existsSync(stackcollapse)
        ? `perf record -q -a -g -F 99 -o ${OUT}/e2e.data -- sleep ${SECONDS} && perf script -i ${OUT}/e2e.data | ${stackcollapse} > ${OUT}/e2e-perf.folded`
        : undefined,
    'profile-bpfcc -f': have('profile-bpfcc') ? `profile-bpfcc -F 99 -f ${SECONDS} > ${OUT}/e2e-bcc.folded` : undefined,
  };
  const results = {};
  for (const load of ['idle', 'busy']) {
    const busy = load === 'busy' ? spawn(workload, ['100000000'], { stdio: 'ignore' }) : undefined;
    for (let rep = 0; rep < REPS; rep++) {
      for (const [name, script] of Object.entries(tools)) if (script) ((results[name] ??= {})[load] ??= []).push(timed(script));
    }
    busy?.kill();
  }
  const rows = [];
  for (const load of ['idle', 'busy']) {
    const ours = median(results[OURS][load]);
    const others = Object.entries(tools).filter(([name]) => name !== OURS);
    rows.push({
      what: `start to exit, ${SECONDS} s system-wide recording to folded stacks, ${load === 'idle' ? 'idle machine' : 'busy (2 spinning threads)'}`,
      ours: `${ours.toFixed(2)} s (duration + ${(ours - SECONDS).toFixed(2)} s)`,
      peer: others.map(([name, script]) => `${name}: ${script ? `${median(results[name][load]).toFixed(2)} s` : 'absent'}`).join('; '),
      ratio: others.filter(([, script]) => script).map(([name]) => `${(median(results[name][load]) / ours).toFixed(2)}×`).join(' / '),
      target: '≤ duration + 0.3 s',
      met: ours - SECONDS <= 0.3,
    });
  }
  return rows;
}

/**
 * A busy host for the RSS row: node running JavaScript (with its perf map), python3 in a loop, and
 * gcc compiling again and again (new processes all the time), as the issue's target names them.
 */
function startBusyHost() {
  const children = [
    spawn(process.execPath, ['--perf-basic-prof', join(ROOT, 'fixtures', 'jit', 'hot.js'), String((RSS_SECONDS + 30) * 1000)], { stdio: 'ignore' }),
    spawn('python3', ['-c', 'import json\nwhile True: json.loads(json.dumps([{"k": i, "v": str(i)} for i in range(2000)]))'], { stdio: 'ignore' }),
    spawn('sh', ['-c', `while :; do gcc -O2 -c ${join(ROOT, 'fixtures', 'programs', 'calltree.c')} -o ${join(OUT, 'busy.o')}; done`], { stdio: 'ignore', detached: true }),
  ];
  return () => {
    for (const child of children) {
      try {
        if (child.spawnargs[0] === 'sh') process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // gone already
      }
    }
  };
}

async function peakRss() {
  const out = join(OUT, 'rss.folded');
  const stop = startBusyHost();
  await sleep(2000);
  const result = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, BIN, 'record', '--duration', String(RSS_SECONDS), '-o', out], { encoding: 'utf8' });
  stop();
  const kb = Number(result.stderr.trim().split('\n').pop());
  const stacks = existsSync(out) ? readFileSync(out, 'utf8').split('\n').length - 1 : 0;
  const mb = kb / 1024;
  return {
    what: `peak RSS of a ${RSS_SECONDS} s system-wide recording, busy host (node, python3 and a gcc loop running)`,
    ours: `${mb.toFixed(1)} MB (${stacks} distinct folded stacks, ${statSync(out).size} bytes written)`,
    target: '≤ 100 MB',
    met: mb <= 100,
  };
}

emit({
  title: 'record',
  rows: [...(await overhead()), ...(await endToEnd()), await peakRss()],
  notes: [
    `Overhead rows: CPU-bound 2-thread workload (fixtures/programs/spin2.c, PROFILE_BENCH_WORK=${WORK}), profilers system-wide on ${CPUS} CPUs, one after another, medians of ${REPS} (PROFILE_BENCH_REPS); BPF time from kernel.bpf_stats_enabled (run_time_ns / run_cnt of each profiler's own sampling program), process CPU from /proc/PID/stat while the workload runs.`,
    `Start-to-exit rows: medians of ${REPS}; ratio: each peer's time over ours.`,
  ],
});
