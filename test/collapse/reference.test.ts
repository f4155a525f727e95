// `profile collapse` against stackcollapse-perf.pl on FlameGraph's own test inputs (every *.txt in
// its test/ directory: perf script output from several perf versions, Java, node, Rust, MirageOS,
// two events in one file) with each of the options its test suite uses: the built CLI's output
// must equal the script's byte for byte. Then
// prefixes of every input cut at line boundaries (a sample ended by its blank line, or not) against
// the script, and the byte path against the line path. Needs the FlameGraph checkout and perl
// (test/helpers/flamegraph.ts); under CI=true their absence fails. ~40 s on 2 busy cores.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { collapse } from '../../src/collapse/index.js';
import { PERF_DEFAULTS, PerfParser } from '../../src/collapse/perf.js';
import { forEachLine } from '../../src/io/lines.js';
import { foldedLines } from '../../src/profile/folded.js';
import { ROOT, cliEnv, cliSpawnArgs } from '../helpers/cli.js';
import { FLAMEGRAPH_DIR, requireFlamegraph, stackcollapsePerf } from '../helpers/flamegraph.js';

const OPTIONS = ['--pid', '--tid', '--kernel', '--jit', '--all', '--addrs'] as const;
const LAST_SAMPLE_NOTE = /^profile: skipped the last sample \(header at line \d+\): no blank line ends it/;
const TEST_DIR = join(FLAMEGRAPH_DIR, 'test');

const inputs = (): string[] =>
  readdirSync(TEST_DIR)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => join(TEST_DIR, f));

interface Run {
  readonly status: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

function cli(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(...cliSpawnArgs(args), { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/** Runs `jobs` two at a time (the machine has two cores), keeping their order. */
async function inPairs<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const index = next++;
      results[index] = await jobs[index]!();
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

/** A sample of perf script ends with a blank line; the last one without it is left out, and said so. */
const endsWithoutBlankLine = (bytes: Buffer): boolean => !bytes.toString('latin1').endsWith('\n\n');

function checkRun(t: Test, label: string, run: Run, expected: Buffer, input: Buffer): boolean {
  const same = run.status === 0 && run.stdout.equals(expected);
  t.ok(same, `${label}: identical to stackcollapse-perf.pl (exit ${run.status}, ${run.stdout.length} vs ${expected.length} bytes${run.status === 0 ? '' : `, ${run.stderr.trim().slice(0, 200)}`})`);
  const notes = run.stderr.split('\n').filter((l) => LAST_SAMPLE_NOTE.test(l)).length;
  t.equal(notes, endsWithoutBlankLine(input) ? 1 : 0, `${label}: ${notes} stderr line(s) about a last sample left out`);
  return same;
}

t.test("FlameGraph's test inputs: profile collapse equals stackcollapse-perf.pl", async (t) => {
  if (!requireFlamegraph(t, 'stackcollapse-perf.pl', 'test')) return;
  const files = inputs();
  if (files.length === 0) {
    if (process.env.CI === 'true') t.fail(`no *.txt inputs in ${TEST_DIR}`);
    else t.pass('skipped', { skip: `no *.txt inputs in ${TEST_DIR}` });
    return;
  }
  const cases = files.flatMap((file) => OPTIONS.map((option) => ({ file, option })));
  const expected = cases.map(({ file, option }) => {
    const perl = stackcollapsePerf([option], file);
    t.equal(perl.status, 0, `stackcollapse-perf.pl ${option} ${basename(file)} exits 0`);
    return perl.stdout;
  });
  const contents = new Map(files.map((f) => [f, readFileSync(f)]));

  // Every case through bin/run.js as a user runs it.
  const runs = await inPairs(cases.map(({ file, option }) => () => cli(['collapse', option, file])));
  let identical = 0;
  cases.forEach(({ file, option }, i) => {
    if (checkRun(t, `${option} ${basename(file)}`, runs[i]!, expected[i]!, contents.get(file)!)) identical++;
  });
  t.equal(identical, cases.length, `${identical} of ${cases.length} cases identical (${files.length} inputs × ${OPTIONS.length} options)`);
});

/** Line starts (byte offsets just after each newline) of `bytes`. */
function lineEnds(bytes: Buffer): number[] {
  const ends: number[] = [];
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) ends.push(i + 1);
  return ends;
}

/**
 * Prefixes of `bytes` cut where a partial or a killed `perf script` would stop: at line boundaries
 * spread through the file, each one both mid-sample and just after the next blank line, plus the
 * whole input without its final newlines.
 */
function prefixes(bytes: Buffer): { label: string; bytes: Buffer }[] {
  const ends = lineEnds(bytes);
  const cuts: { label: string; bytes: Buffer }[] = [];
  for (let k = 1; k <= 4; k++) {
    const end = ends[Math.floor((ends.length * k) / 5)];
    if (end === undefined) continue;
    cuts.push({ label: `first ${end} bytes`, bytes: bytes.subarray(0, end) });
    const blank = bytes.indexOf('\n\n', end - 1);
    if (blank >= 0) cuts.push({ label: `first ${blank + 2} bytes (after a blank line)`, bytes: bytes.subarray(0, blank + 2) });
  }
  let trimmed = bytes.length;
  while (trimmed > 0 && bytes[trimmed - 1] === 10) trimmed--;
  cuts.push({ label: 'without its final newlines', bytes: bytes.subarray(0, trimmed) });
  return cuts;
}

t.test('prefixes at line boundaries equal stackcollapse-perf.pl on the same prefix', async (t) => {
  if (!requireFlamegraph(t, 'stackcollapse-perf.pl', 'test')) return;
  // Ours too: every perf fixture the golden tests use that the script reads the same way (it drops
  // stack lines without a dso, which no-dso.txt has).
  const own = join(ROOT, 'fixtures', 'collapse', 'perf');
  const files = [...inputs(), ...readdirSync(own).filter((f) => f.endsWith('.txt') && f !== 'no-dso.txt').map((f) => join(own, f))];
  const flags = ['--tid', '--all'];
  let compared = 0;
  for (const file of files) {
    for (const cut of prefixes(readFileSync(file))) {
      const perl = stackcollapsePerf(flags, undefined, cut.bytes);
      let text: string;
      try {
        const profile = await collapse(Readable.from([cut.bytes]), 'prefix.txt', {});
        const lines = foldedLines(profile, { processFrame: 'comm-pid/tid', annotateKernel: true, annotateJit: true });
        text = lines.map((l) => `${l}\n`).join('');
      } catch (error) {
        text = `error: ${(error as Error).message}`;
      }
      t.equal(text, perl.stdout.toString('utf8'), `${basename(file)}, ${cut.label}`);
      compared++;
    }
  }
  t.ok(compared >= files.length * 2, `${compared} prefixes compared`);
});

t.test("FlameGraph's test inputs: the byte path equals the line path, across chunk boundaries", async (t) => {
  if (!requireFlamegraph(t, 'test')) return;
  for (const file of inputs()) {
    const bytes = readFileSync(file);
    const byLine = new PerfParser(file, PERF_DEFAULTS);
    await forEachLine([bytes], (text, n) => byLine.line(text, n));
    const lineProfile = byLine.end();
    const expected = foldedLines(lineProfile).join('\n');
    // One-byte chunks cost a call per byte: only on the smaller inputs.
    for (const size of bytes.length < 64 * 1024 ? [1, 7, 4096] : [7, 4096]) {
      const byBytes = new PerfParser(file, PERF_DEFAULTS);
      for (let i = 0; i < bytes.length; i += size) byBytes.write(bytes.subarray(i, i + size));
      const profile = byBytes.end();
      t.equal(foldedLines(profile).join('\n'), expected, `${basename(file)} in ${size}-byte chunks`);
      t.same(profile.metadata.notes ?? [], lineProfile.metadata.notes ?? [], `${basename(file)} in ${size}-byte chunks: same notes`);
    }
  }
});
