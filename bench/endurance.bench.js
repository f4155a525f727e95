#!/usr/bin/env node
// `npm run bench -- endurance`: a long system-wide recording at 999 Hz while two shell loops start
// short processes back to back (each lives a few ms), to show that the recorder's memory stays
// bounded over time and that the short processes are still named. PROFILE_ENDURANCE_SECONDS sets
// the length (default 600; 3600 for the one-hour run). Needs root with BPF.
//
// The recorder is test/endurance/recorder.mjs: the steps of `profile record -o FILE` plus the BPF
// counters the CLI summary leaves out, so firings can be checked against collected + dropped +
// filtered. There is no peer: this is not a speed comparison.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit } from './report.js';
import { buildShortLived, dropsOf, rssSampler, SHORT_COMM, startForkLoops, summarizeFolded } from '../test/endurance/workload.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.env.PROFILE_ENDURANCE_SECONDS ?? 600);
const frequency = Number(process.env.PROFILE_ENDURANCE_FREQUENCY ?? 999);

if (process.getuid?.() !== 0) {
  console.log('## Endurance\n\nabsent: needs root with BPF');
  process.exit(0);
}

const mb = (kb) => (kb / 1024).toFixed(0);
const dir = mkdtempSync(join(tmpdir(), 'profile-endurance-'));
const out = join(dir, 'endurance.folded');
const bpfIds = () => {
  const ids = [];
  for (const kind of ['prog', 'map', 'link']) for (const o of JSON.parse(execFileSync('bpftool', [kind, 'list', '-j'], { encoding: 'utf8' }) || '[]')) ids.push(`${kind}:${o.id}`);
  return new Set(ids);
};
const before = bpfIds();
const binary = buildShortLived();
const loops = startForkLoops(binary, 2);
const recorder = spawn(process.execPath, [join(root, 'test', 'endurance', 'recorder.mjs'), out, String(seconds), String(frequency)], {
  cwd: root,
  env: { ...process.env, ENDURANCE_COMM: SHORT_COMM },
  stdio: ['ignore', 'pipe', 'pipe'],
});
const rss = rssSampler(recorder.pid, 1000);
let stdout = '';
let stderr = '';
recorder.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
recorder.stderr.setEncoding('utf8').on('data', (d) => {
  stderr += d;
  if (/recording ended/.test(d)) rss.mark('recording ended');
});
const stopRecorder = () => recorder.kill('SIGINT');
process.once('SIGINT', stopRecorder);
const code = await new Promise((resolve) => recorder.on('close', resolve));
rss.stop();
const started = await loops.stop();
if (code !== 0) {
  console.log(`**recorder failed (exit ${code})**: ${stderr.slice(-2000)}`);
  process.exit(1);
}
const report = JSON.parse(stdout);
const c = report.counters;
const drops = dropsOf(c);
const folded = summarizeFolded(readFileSync(out, 'utf8'));
const short = folded.byComm.get(SHORT_COMM) ?? { samples: 0, own: 0, named: 0 };
const sampling = rss.before('recording ended');
const atEnd = sampling.at(-1)?.kb ?? 0;
// Leaks are judged after the recorder's exit; the kernel frees objects RCU-deferred.
await new Promise((r) => setTimeout(r, 1000));
const left = [...bpfIds()].filter((id) => !before.has(id));
rmSync(dir, { recursive: true, force: true });

const rows = [];
const row = (what, ours, fields = {}) => rows.push({ what, ours: String(ours), ...fields });
const unaccounted = c.PROBE_FIRINGS - c.COLLECTED - drops - c.FILTERED;
row('recording', `${(report.recordedMs / 1000).toFixed(0)} s`);
row('RSS after 10 % of the run', `${mb(sampling[Math.floor(sampling.length / 10)]?.kb ?? 0)} MB`);
row('RSS at the end of recording', `${mb(atEnd)} MB`);
row('peak RSS, symbolizing included', `${mb(rss.peakKb())} MB`);
row('probe firings', c.PROBE_FIRINGS);
row('samples collected', c.COLLECTED);
row(`dropped (${Object.entries(report.dropped).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'})`, drops);
row('filtered (idle)', c.FILTERED);
row('unaccounted (firings − collected − dropped − filtered)', unaccounted, { target: '0', met: unaccounted === 0 });
row('processes seen', report.processesSeen);
row('short processes started', started);
row('short processes sampled / captured alive', `${report.watched.pidsSampled} / ${report.watched.pidsCaptured}`);
row('samples in their own code named', `${short.named} of ${short.own} (${((100 * short.named) / Math.max(1, short.own)).toFixed(1)} %)`);
row('BPF objects left after exit', left.length, { target: '0', met: left.length === 0 });
const curve = [];
for (let i = 1; i <= 10; i++) {
  const s = sampling[Math.min(sampling.length - 1, Math.floor((i * sampling.length) / 10) - 1)];
  if (s) curve.push(`${(s.ms / 1000).toFixed(0)} s ${mb(s.kb)} MB`);
}
emit({
  title: 'Endurance',
  rows,
  notes: [
    `${seconds} s system-wide at ${frequency} Hz (PROFILE_ENDURANCE_SECONDS, PROFILE_ENDURANCE_FREQUENCY) while two shell loops start short processes back to back; the recorder is test/endurance/recorder.mjs. No peer: this is not a speed comparison.`,
    `RSS while recording: ${curve.join(', ')}.`,
  ],
});
process.exit(left.length === 0 && unaccounted === 0 ? 0 : 1);
