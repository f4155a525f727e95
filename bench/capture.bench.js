#!/usr/bin/env node
// `npm run bench -- capture`: what capturing one new process costs (src/host/procfs.ts
// captureProcess), the work `record` does for every process sampled for the first time. 100 live
// /bin/sleep processes are captured 41 times over; the first round opens their binaries (held
// from then on, as in a recording), the median of the other 40 is the figure, in µs per process.
// Announced: with what the BPF side announces (uid, PID-namespace depth, cgroup key; the key
// computed here as the kernel does). Not announced: a process met only in the sample counts.
// PROFILE_CAPTURE_BENCH_PROCESSES sets the number of processes.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit } from './report.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { captureProcess, closeCapturedFiles } = await import(join(root, 'dist/host/index.js'));
const { cgroupKeyOfText, cgroupReads } = await import(join(root, 'dist/host/cgroups.js'));
const count = Number(process.env.PROFILE_CAPTURE_BENCH_PROCESSES ?? 100);
const ROUNDS = 41;

const children = Array.from({ length: count }, () => spawn('/bin/sleep', ['300'], { stdio: 'ignore' }));
const pids = children.map((c) => c.pid);
// Past exec and the dynamic loader: the same maps twice, 100 ms apart.
for (let i = 0, last = ''; i < 50; i++) {
  await new Promise((r) => setTimeout(r, 100));
  const maps = pids.map((pid) => readFileSync(`/proc/${pid}/maps`, 'latin1')).join('');
  if (maps === last) break;
  last = maps;
}
const mapsLines = readFileSync(`/proc/${pids[0]}/maps`, 'latin1').trim().split('\n').length;

function announcement(pid, announced) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  if (!announced) return { startTicks };
  const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))[1]);
  return { startTicks, uid, pidNsLevel: 0, cgroupKey: cgroupKeyOfText(readFileSync(`/proc/${pid}/cgroup`, 'latin1')) ?? 0n };
}

/** Median µs per process over the rounds after the first, and how many captures failed. */
function measure(announced) {
  const given = new Map(pids.map((pid) => [pid, announcement(pid, announced)]));
  const perProcess = [];
  let failed = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (const pid of pids) if (captureProcess(pid, 'sleep', given.get(pid))?.comm !== 'sleep') failed++;
    perProcess.push(Number(process.hrtime.bigint() - started) / 1000 / pids.length);
  }
  const steady = perProcess.slice(1).sort((a, b) => a - b);
  return { us: steady[steady.length >> 1], failed };
}

const reads = { ...cgroupReads };
const withAnnouncement = measure(true);
const cgroupReadsAnnounced = cgroupReads.read - reads.read;
const without = measure(false);
for (const child of children) child.kill('SIGKILL');
closeCapturedFiles();

emit({
  title: 'Process capture',
  rows: [
    { what: `capture of an announced process (${mapsLines} mappings), per process`, ours: `${withAnnouncement.us.toFixed(1)} µs` },
    { what: 'capture of a process without announcement (status and cgroup read too), per process', ours: `${without.us.toFixed(1)} µs` },
    { what: `/proc/PID/cgroup reads for ${ROUNDS * count} announced captures`, ours: String(cgroupReadsAnnounced) },
    { what: 'captures that failed', ours: String(withAnnouncement.failed + without.failed), target: '0', met: withAnnouncement.failed + without.failed === 0 },
  ],
  notes: [`${count} live /bin/sleep processes (PROFILE_CAPTURE_BENCH_PROCESSES), ${ROUNDS} rounds each way, the first (which opens the mapped binaries) left out; medians.`],
});
