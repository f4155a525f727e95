#!/usr/bin/env node
// The recorder of the endurance test and benchmark: the same steps as `profile record -o FILE`
// (record with process capture → symbolize → write atomically, built dist/), plus one JSON line on
// stdout with what the CLI's summary leaves out — the BPF counters (probe firings, filtered) and,
// for the processes named by ENDURANCE_COMM, how many distinct pids were sampled and captured.
// A separate process so that its RSS is the recorder's alone.
//
// Usage: node recorder.mjs OUTPUT SECONDS [FREQUENCY]; SIGINT/SIGTERM end the recording early.
import { RECORD_DEFAULTS, droppedByReason, record } from '../../dist/record/index.js';
import { captureProcess, closeCapturedFiles } from '../../dist/host/index.js';
import { symbolize } from '../../dist/symbolize/index.js';
import { writeProfile } from '../../dist/output/index.js';

const [output, seconds, frequency = '999'] = process.argv.slice(2);
const watched = process.env.ENDURANCE_COMM ?? '';
const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => controller.abort());

// Processes named ENDURANCE_COMM, as the recorder saw them: sampled (announced), and captured
// alive. Counted here because the samples of exited processes lose their pid once folded.
const sampledPids = new Set();
const capturedPids = new Set();
const started = Date.now();
const result = await record(
  { ...RECORD_DEFAULTS, frequency: Number(frequency), durationSeconds: Number(seconds) },
  {
    signal: controller.signal,
    captureProcess: (pid, comm, announced) => {
      const snapshot = captureProcess(pid, comm, announced);
      if (comm === watched) {
        sampledPids.add(pid);
        if (snapshot) capturedPids.add(pid);
      }
      return snapshot;
    },
  },
);
const recordedMs = Date.now() - started;
process.stderr.write(`recorder: recording ended after ${recordedMs} ms\n`);
const profile = await symbolize(result.raw);
closeCapturedFiles();
await writeProfile(profile, { path: output });

const extra = result.raw.metadata.extra ?? {};
process.stdout.write(
  `${JSON.stringify({
    recordedMs,
    totalMs: Date.now() - started,
    counters: result.counters,
    dropped: droppedByReason(result.counters),
    processesSeen: extra.processesSeen,
    processesCaptured: extra.processesCaptured,
    watched: { comm: watched, pidsSampled: sampledPids.size, pidsCaptured: capturedPids.size },
    foldedProcesses: extra.foldedProcesses,
    harvests: extra.harvests,
  })}\n`,
);
