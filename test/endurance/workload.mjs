// What the endurance test and benchmark share: the short-lived fixture, the shell loops that
// start it over and over, an RSS sampler for the recorder, and a reading of the folded output.
// Plain JS so that bench/endurance.bench.js can use it without a TypeScript loader.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The comm of the short processes (the binary's name; at most 15 characters). */
export const SHORT_COMM = 'endurshort';

/** Builds test/endurance/shortlived.c into the gitignored fixtures build directory, once. */
export function buildShortLived() {
  const source = join(ROOT, 'test', 'endurance', 'shortlived.c');
  const out = join(ROOT, 'fixtures', 'build', SHORT_COMM);
  mkdirSync(dirname(out), { recursive: true });
  let fresh = false;
  try {
    fresh = statSync(out).mtimeMs >= statSync(source).mtimeMs;
  } catch {
    // not built yet
  }
  if (!fresh) execFileSync('clang-14', ['-O1', '-fno-omit-frame-pointer', '-no-pie', '-o', out, source]);
  return out;
}

/**
 * Starts `count` shell loops, each running `binary MS` back to back. `stop()` kills them (each
 * loop is its own process group) and returns how many short processes they started in all, which
 * each loop reports on SIGTERM.
 */
export function startForkLoops(binary, count, ms = 3) {
  const loops = [];
  for (let i = 0; i < count; i++) {
    const script = `n=0; trap 'echo $n; exit 0' TERM; while :; do "$0" ${ms}; n=$((n+1)); done`;
    const child = spawn('sh', ['-c', script, binary], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    const closed = new Promise((resolve) => child.on('close', () => resolve(Number(out.trim()) || 0)));
    loops.push({ child, closed });
  }
  let stopped;
  return {
    /** Stops the loops; resolves to the number of processes they started. */
    stop() {
      if (stopped) return stopped;
      for (const { child } of loops) {
        try {
          process.kill(child.pid, 'SIGTERM'); // the shell only, which reports its count at once
        } catch {
          // already gone
        }
      }
      stopped = Promise.all(loops.map((l) => l.closed)).then((counts) => {
        for (const { child } of loops) {
          try {
            process.kill(-child.pid, 'SIGKILL'); // a short process still running
          } catch {
            // already gone
          }
        }
        return counts.reduce((a, b) => a + b, 0);
      });
      return stopped;
    },
  };
}

function vmRssKb(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Samples VmRSS of `pid` every `intervalMs`; `mark(name)` notes a moment (e.g. the end of sampling). */
export function rssSampler(pid, intervalMs = 250) {
  const began = Date.now();
  const samples = [];
  const marks = new Map();
  const take = () => {
    const kb = vmRssKb(pid);
    if (kb !== undefined) samples.push({ ms: Date.now() - began, kb });
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    samples,
    mark(name) {
      take();
      marks.set(name, Date.now() - began);
    },
    /** Samples taken before the mark (all of them when it was never set). */
    before(name) {
      const at = marks.get(name) ?? Infinity;
      return samples.filter((s) => s.ms <= at);
    },
    peakKb() {
      return Math.max(0, ...samples.map((s) => s.kb));
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/** The sum of the DROP_* counters. */
export function dropsOf(counters) {
  return Object.entries(counters)
    .filter(([name]) => name.startsWith('DROP_'))
    .reduce((sum, [, n]) => sum + n, 0);
}

const OWN_FRAME = /;(main|endurance_work|endurance_spin)(;|$)/;
// The program is linked -no-pie at 0x400000: its frames left as raw addresses (no memory map).
const OWN_ADDRESS = /;(\[endurshort\+0x[0-9a-f]+\]|0x4[0-9a-f]{5})(;|$)/;

/**
 * Per root frame (comm): samples; samples inside the short program's own code (`own`), and of
 * those the ones whose frames are named — which takes its memory map, captured while it lived.
 * The rest of a short process's samples fall in exec, the dynamic loader and exit.
 */
export function summarizeFolded(text) {
  const byComm = new Map();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const space = line.lastIndexOf(' ');
    const count = Number(line.slice(space + 1));
    const stack = line.slice(0, space);
    const semi = stack.indexOf(';');
    const comm = semi < 0 ? stack : stack.slice(0, semi);
    const entry = byComm.get(comm) ?? { samples: 0, own: 0, named: 0 };
    entry.samples += count;
    const named = OWN_FRAME.test(stack);
    if (named) entry.named += count;
    if (named || OWN_ADDRESS.test(stack)) entry.own += count;
    byComm.set(comm, entry);
    total += count;
  }
  return { byComm, total };
}
