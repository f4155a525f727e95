// Golden tests for `profile collapse`: every recorded tool output under fixtures/collapse/
// (perf script, bpftrace, BCC profile) with option sets → results/*.folded (see helpers/golden.ts:
// BLESS=1 rewrites them, a missing one fails under CI=true); stackcollapse-perf.pl as an oracle for
// the perf inputs (../shared/peers/FlameGraph, or FLAMEGRAPH_DIR); the byte path against the line
// path in 1-, 7- and 4096-byte chunks; the
// shared 40 MB corpus byte for byte through the CLI; error cases through the CLI. 14–23 s at load
// average 7 on 2 cores (the corpus run is a few seconds of it).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { collapse, type CollapseOptions } from '../../src/collapse/index.js';
import { PERF_DEFAULTS, PerfParser, type PerfOptions } from '../../src/collapse/perf.js';
import { forEachLine } from '../../src/io/lines.js';
import { foldedLines, type FoldedWriteOptions } from '../../src/profile/folded.js';
import { BIN, ROOT, cliEnv, cliSpawnArgs } from '../helpers/cli.js';
import { stackcollapsePerf } from '../helpers/flamegraph.js';
import { golden } from '../helpers/golden.js';
import { requiresFile, requiresFlameGraph, requiresTools } from '../helpers/requires.js';

const FIXTURES = join(ROOT, 'fixtures', 'collapse');
const RESULTS = join(FIXTURES, 'results');

interface Variant {
  readonly suffix: string;
  /** Flags for the CLI and for stackcollapse-perf.pl. */
  readonly flags: readonly string[];
  readonly parse: CollapseOptions;
  readonly write: Partial<FoldedWriteOptions>;
}

const plain: Variant = { suffix: '', flags: [], parse: {}, write: {} };
const kernel: Variant = { suffix: '-kernel', flags: ['--kernel'], parse: {}, write: { annotateKernel: true } };
const VARIANTS: Record<string, readonly Variant[]> = {
  perf: [
    plain,
    { suffix: '-pid', flags: ['--pid'], parse: {}, write: { processFrame: 'comm-pid' } },
    { suffix: '-tid', flags: ['--tid'], parse: {}, write: { processFrame: 'comm-pid/tid' } },
    { suffix: '-all', flags: ['--all'], parse: {}, write: { annotateKernel: true, annotateJit: true } },
    { suffix: '-addrs', flags: ['--addrs'], parse: { addrs: true }, write: {} },
    { suffix: '-event-task-clock', flags: ['--event-filter=task-clock'], parse: { eventFilter: 'task-clock' }, write: {} },
  ],
  bpftrace: [plain, kernel],
  bcc: [plain, kernel],
};

// Which fixture each variant is worth running on (the rest would only repeat the plain output).
const wanted = (dir: string, name: string, variant: Variant): boolean =>
  variant === plain || dir !== 'perf' || (variant.suffix === '-event-task-clock' ? name === 'two-events' : name === 'system-wide' || name === 'fields');

const cases = ['perf', 'bpftrace', 'bcc'].flatMap((dir) =>
  readdirSync(join(FIXTURES, dir))
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .flatMap((file) => {
      const name = file.replace(/\.txt$/, '');
      return VARIANTS[dir]!.filter((v) => wanted(dir, name, v)).map((variant) => ({ dir, name, path: join(FIXTURES, dir, file), variant }));
    }),
);

async function ours(path: string, variant: Variant): Promise<{ text: string; format: unknown; unit?: string }> {
  const profile = await collapse(createReadStream(path), path, variant.parse);
  const lines = foldedLines(profile, variant.write);
  return { text: lines.map((l) => `${l}\n`).join(''), format: profile.metadata.extra?.inputFormat, unit: profile.metadata.unit };
}

t.test('golden outputs', async (t) => {
  for (const { dir, name, path, variant } of cases) {
    const { text, format } = await ours(path, variant);
    // BCC's -f output without -d is plain folded text, and is read as such.
    const expected = dir === 'bcc' && name === 'folded' ? 'folded' : dir;
    t.equal(format, expected, `${dir}/${name}.txt is detected as ${expected}`);
    t.ok(text.length > 0, `${dir}/${name}${variant.suffix} has stacks`);
    t.equal(text, golden(join(RESULTS, `${dir}-${name}${variant.suffix}.folded`), text), `${dir}/${name}${variant.suffix} matches its golden`);
  }
});

t.test('what each format tells about frames', async (t) => {
  const bt = await ours(join(FIXTURES, 'bpftrace', 'kstack-ustack-comm.txt'), kernel);
  t.match(bt.text, /^bash(;0x[0-9a-f]+)+;entry_SYSCALL_64_after_hwframe_\[k\];do_syscall_64_\[k\]/m, 'bpftrace: comm, then user frames, then kernel frames root first');
  const ustack = await ours(join(FIXTURES, 'bpftrace', 'ustack.txt'), plain);
  t.equal(ustack.text.split('\n')[0], '__libc_start_call_main;main;leaf_compute 45', 'bpftrace: offsets dropped, leaf-first order reversed');
  const two = await ours(join(FIXTURES, 'bpftrace', 'comm-kstack-two-maps.txt'), plain);
  t.notMatch(two.text, /^\d+ /m, 'bpftrace: the @cpu map without stacks is left out');
  const bcc = await ours(join(FIXTURES, 'bcc', 'delimited.txt'), kernel);
  t.match(bcc.text, /\[unknown\];[^;\n]+_\[k\]/, 'bcc -d: frames after the -- delimiter are kernel frames');
  const bccFolded = await ours(join(FIXTURES, 'bcc', 'folded-delimited.txt'), kernel);
  t.notMatch(bccFolded.text, /;-;/, 'bcc -df: the - delimiter is consumed');
  t.match(bccFolded.text, /;entry_SYSCALL_64_after_hwframe_\[k\]/, 'bcc -df: kernel frames after it are marked');
  const perf = await ours(join(FIXTURES, 'perf', 'two-events.txt'), plain);
  t.equal(perf.unit, 'nanoseconds', 'perf cpu-clock periods are nanoseconds');
  const samples = await collapse(createReadStream(join(FIXTURES, 'perf', 'process.txt')), 'p', { weight: 'samples' });
  t.equal(samples.totalWeight, samples.metadata.samples, 'perf --weight samples counts each sample once');
});

// collapse() feeds perf input to the parser as raw bytes; the line path is what it falls back to
// for unusual lines. Both must give the same profile, wherever chunks happen to split lines.
t.test('perf: the byte path equals the line path, across chunk boundaries and CRLF', async (t) => {
  const perfCases = cases.filter((c) => c.dir === 'perf');
  for (const { name, path, variant } of perfCases) {
    const options = { ...PERF_DEFAULTS, ...(variant.parse as Partial<PerfOptions>) };
    for (const crlf of [false, true]) {
      let bytes = readFileSync(path);
      if (crlf) bytes = Buffer.from(bytes.toString('latin1').replaceAll('\n', '\r\n'), 'latin1');
      const byLine = new PerfParser(path, options);
      await forEachLine([bytes], (text, n) => byLine.line(text, n));
      const expected = foldedLines(byLine.end(), variant.write).join('\n');
      for (const size of [1, 7, 4096]) {
        const byBytes = new PerfParser(path, options);
        for (let i = 0; i < bytes.length; i += size) byBytes.write(bytes.subarray(i, i + size));
        const actual = foldedLines(byBytes.end(), variant.write).join('\n');
        t.equal(actual, expected, `${name}${variant.suffix}${crlf ? ' (CRLF)' : ''} in ${size}-byte chunks`);
      }
    }
  }
});

t.test('stackcollapse-perf.pl as the oracle', async (t) => {
  if (!requiresFlameGraph(t, 'stackcollapse-perf.pl')) return;
  // no-dso.txt: the reference drops every frame of a stack line without a dso; we keep them.
  for (const { name, path, variant } of cases.filter((c) => c.dir === 'perf' && c.name !== 'no-dso')) {
    const perl = stackcollapsePerf(variant.flags, path);
    t.equal((await ours(path, variant)).text, perl.stdout.toString('utf8'), `perf/${name}${variant.suffix} equals stackcollapse-perf.pl ${variant.flags.join(' ')}`);
  }
});

t.test('the shared corpus, byte for byte through the CLI', async (t) => {
  const data = process.env.PROFILE_SHARED_DATA || join(ROOT, '..', 'shared', 'data');
  const input = join(data, 'perf-script-mixed.txt.zst');
  if (!requiresTools(t, 'zstd') || !requiresFile(t, input, 'the shared perf-script corpus beside the repository')) return;
  const run = spawnSync('sh', ['-c', `zstd -dc "$1" | "$2" "$3" collapse`, 'sh', input, process.execPath, BIN], { maxBuffer: 1 << 28, env: cliEnv() });
  t.equal(run.status, 0, `collapse exits 0 (${run.stderr.toString().slice(0, 200)})`);
  const sorted = (bytes: Buffer): Buffer[] => {
    const lines: Buffer[] = [];
    let start = 0;
    for (let end = bytes.indexOf(10); end >= 0; start = end + 1, end = bytes.indexOf(10, start)) lines.push(bytes.subarray(start, end + 1));
    return lines.sort(Buffer.compare);
  };
  const expected = Buffer.concat(sorted(gunzipSync(readFileSync(join(data, 'perf-script-mixed.folded.gz')))));
  const actual = Buffer.concat(sorted(run.stdout));
  t.ok(actual.equals(expected), `sorted output equals perf-script-mixed.folded.gz byte for byte (${actual.length} vs ${expected.length} bytes)`);
});

t.test('bad input: one line naming file and line, exit 2', async (t) => {
  const errors = join(FIXTURES, 'errors');
  const expect: [string, RegExp][] = [
    ['empty.txt', /^profile: \S*empty\.txt: input is empty\n$/],
    ['unknown.txt', /^profile: \S*unknown\.txt:1: not a known stack format .*found "hello world"\n$/],
    ['binary.bin', /^profile: \S*binary\.bin:\d+: /],
    ['perf-truncated.txt', /^profile: \S*perf-truncated\.txt:24: expected a perf script sample header .*found "\\t +1397 outer\+0x27 \("\n$/],
    ['perf-no-stacks.txt', /^profile: \S*perf-no-stacks\.txt:1: perf script output has no call stacks: record with perf record -g/],
    ['bpftrace-truncated.txt', /^profile: \S*bpftrace-truncated\.txt:16: bpftrace map entry '@\[…' is cut off/],
  ];
  for (const [file, pattern] of expect) {
    const run = spawnSync(...cliSpawnArgs(['collapse', join(errors, file)]), { encoding: 'utf8', env: cliEnv() });
    t.equal(run.status, 2, `${file}: exit code 2`);
    t.equal(run.stdout, '', `${file}: nothing on stdout`);
    t.match(run.stderr, pattern, `${file}: ${run.stderr.trim()}`);
    t.equal(run.stderr.trim().split('\n').length, 1, `${file}: one line`);
  }
  const forced = spawnSync(...cliSpawnArgs(['collapse', '--input-format', 'bcc', join(FIXTURES, 'perf', 'process.txt')]), { encoding: 'utf8', env: cliEnv() });
  t.equal(forced.status, 2, '--input-format bcc on perf input: exit 2');
  t.match(forced.stderr, /^profile: \S*process\.txt:1: expected a BCC profile folded line/, 'forced format names the first bad line');
});
