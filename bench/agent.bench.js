#!/usr/bin/env node
// `npm run bench -- agent`: the continuous agent (`record --push URL --push-interval 15`) system-wide
// at 99 Hz for an hour while a shell loop starts short processes back to back, pushing to a
// loopback ingest server: its RSS at the start, after 10 minutes and at the end (the goal: no
// growth after the first 10 minutes, at most 150 MB), its CPU share of the machine (goal: at most
// 0.5 %), and the bytes it sends per interval. PROFILE_AGENT_BENCH_SECONDS sets the length
// (default 3600; CI runs 120), PROFILE_AGENT_BENCH_INTERVAL the interval (default 15),
// PROFILE_AGENT_BENCH_LOOPS the fork loops (default 1; 0 for a quiet machine), PROFILE_AGENT_BENCH_NODE_FLAGS
// node flags for the agent (e.g. `--cpu-prof --cpu-prof-dir=DIR` to see where its CPU goes), PROFILE_AGENT_BENCH_LOG
// a file for the agent's stderr (its --metrics lines). Needs root with BPF.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit } from './report.js';
import { buildShortLived, rssSampler, startForkLoops } from '../test/endurance/workload.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.env.PROFILE_AGENT_BENCH_SECONDS ?? 3600);
const interval = Number(process.env.PROFILE_AGENT_BENCH_INTERVAL ?? 15);
const frequency = 99;
const forkLoops = Number(process.env.PROFILE_AGENT_BENCH_LOOPS ?? 1);
const nodeFlags = (process.env.PROFILE_AGENT_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');

if (process.getuid?.() !== 0) {
  console.log('## Agent\n\nabsent: needs root with BPF');
  process.exit(0);
}

// The loopback server: counts what arrives, answers 200.
let received = 0;
let receivedBytes = 0;
const server = createServer((req, res) => {
  req.on('data', (chunk) => (receivedBytes += chunk.length));
  req.on('end', () => {
    received++;
    res.end();
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}`;

/** utime + stime of `pid` in clock ticks (USER_HZ, 100). */
const cpuTicks = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return Number(fields[11]) + Number(fields[12]);
};

const dir = mkdtempSync(join(tmpdir(), 'profile-agent-bench-'));
const loops = startForkLoops(buildShortLived(), forkLoops);
const agent = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, ...nodeFlags, join(root, 'bin', 'run.js'), 'record', '--push', url, '--push-interval', String(interval), '-F', String(frequency), '--metrics', '--spool-dir', join(dir, 'spool')], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'pipe'],
});
let stderr = '';
agent.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
const rss = rssSampler(agent.pid, 1000);
// Measured from the first interval on: start-up (loading BPF, compiling unwind tables) is no steady state.
while (!stderr.includes('"type":"interval"') && agent.exitCode === null) await new Promise((r) => setTimeout(r, 200));
const began = Date.now();
const ticks0 = cpuTicks(agent.pid);
const rssAt = (ms) => rss.samples.filter((s) => s.ms <= ms).pop()?.kb ?? 0;
const startMs = rss.samples[rss.samples.length - 1]?.ms ?? 0;
const stopAt = setTimeout(() => agent.kill('SIGTERM'), seconds * 1000);
let ticks1 = ticks0;
/** utime + stime per thread name (main, workers, V8 and libuv helpers), for where the CPU goes. */
const threadTicks = () => {
  const byName = new Map();
  for (const tid of readdirSync(`/proc/${agent.pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${agent.pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byName.set(name, (byName.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended
    }
  }
  return byName;
};
const threads0 = threadTicks();
let threads1 = threads0;
const cpuTimer = setInterval(() => {
  try {
    ticks1 = cpuTicks(agent.pid);
    threads1 = threadTicks();
  } catch {
    // exited
  }
}, 1000);
process.once('SIGINT', () => agent.kill('SIGTERM'));
const code = await new Promise((resolve) => agent.on('close', resolve));
const wall = (Date.now() - began) / 1000;
clearTimeout(stopAt);
clearInterval(cpuTimer);
rss.stop();
const forks = await loops.stop();
server.close();
rmSync(dir, { recursive: true, force: true });
if (code !== 0) {
  console.log(`**agent failed (exit ${code})**: ${stderr.slice(-2000)}`);
  process.exit(1);
}
if (process.env.PROFILE_AGENT_BENCH_LOG) writeFileSync(process.env.PROFILE_AGENT_BENCH_LOG, stderr);
const lines = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const intervals = lines.filter((l) => l.type === 'interval');
const summary = lines.find((l) => l.type === 'summary');
const mb = (kb) => (kb / 1024).toFixed(0);
const tenMinutes = Math.min(600, seconds / 2);
const share = ((ticks1 - ticks0) / 100 / (wall * cpus().length)) * 100;
const bytes = intervals.map((i) => i.bytes);
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const byThread = [...threads1].map(([name, t]) => [name, t - (threads0.get(name) ?? 0)]).filter(([, t]) => t > 0).sort((x, y) => y[1] - x[1]);
const firstKb = rssAt(startMs);
const tenKb = rssAt(startMs + tenMinutes * 1000);
const endKb = rss.samples[rss.samples.length - 1]?.kb ?? 0;
const LIMIT_MB = 150;
const CPU_LIMIT = 0.5;
emit({
  title: 'The continuous agent',
  rows: [
    { what: 'RSS at the first interval', ours: `${mb(firstKb)} MB` },
    { what: `RSS after ${tenMinutes} s`, ours: `${mb(tenKb)} MB` },
    { what: `RSS at the end (${wall.toFixed(0)} s)`, ours: `${mb(endKb)} MB`, target: `no growth after ${tenMinutes} s`, met: endKb <= tenKb },
    { what: 'peak RSS', ours: `${mb(rss.peakKb())} MB`, target: `≤ ${LIMIT_MB} MB`, met: rss.peakKb() / 1024 <= LIMIT_MB },
    { what: `agent CPU, share of the machine (${cpus().length} CPUs)`, ours: `${share.toFixed(2)} %`, target: `≤ ${CPU_LIMIT} %`, met: share <= CPU_LIMIT },
    { what: 'agent CPU by thread (s)', ours: byThread.map(([name, t]) => `${name} ${(t / 100).toFixed(1)}`).join(', ') },
    { what: 'intervals / pushed / dropped', ours: `${summary.intervals} / ${summary.pushed} / ${summary.dropped}` },
    { what: 'profiles received, bytes received', ours: `${received}, ${receivedBytes}` },
    { what: 'body bytes per interval (mean, max)', ours: `${mean(bytes).toFixed(0)}, ${Math.max(0, ...bytes)}` },
    { what: 'series per interval (mean)', ours: mean(intervals.map((i) => i.series)).toFixed(1) },
    { what: 'samples collected = in intervals', ours: `${summary.samplesCollected} = ${summary.samplesInIntervals}`, target: 'equal', met: summary.samplesCollected === summary.samplesInIntervals },
    { what: 'short processes started', ours: String(forks) },
  ],
  notes: [
    `\`record --push\` to a loopback ingest server for ${seconds} s (PROFILE_AGENT_BENCH_SECONDS), system-wide at ${frequency} Hz, a push every ${interval} s (PROFILE_AGENT_BENCH_INTERVAL), ${forkLoops} shell loop(s) starting a 3 ms program back to back (PROFILE_AGENT_BENCH_LOOPS); measured from the first interval on.`,
  ],
});
