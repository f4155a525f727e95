// `collapse` of a file on worker threads (src/collapse/parallel.ts) against one parser and against
// stackcollapse-perf.pl. Small parts are forced (--parallel-part-bytes) so that small inputs are
// cut in many places: mid-file, after every few samples, next to comments and two-event files.
// In-process first (the split and the merge, without threads: frames, stacks, order and notes
// equal one parser's), then through the CLI with real workers on FlameGraph's test inputs and on
// the shared 40 MB corpus. Needs the FlameGraph checkout, perl, zstd and the corpus
// (../shared/data, or PROFILE_SHARED_DATA); under CI=true their absence fails. ~60 s on 2 busy cores.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PERF_DEFAULTS, PerfParser } from '../../src/collapse/perf.js';
import { firstEvent, partBoundaries, PartMerger } from '../../src/collapse/parallel.js';
import { PARALLEL_DEFAULTS, parallelPlan, usefulThreads } from '../../src/collapse/parallel-plan.js';
import { foldedLines } from '../../src/profile/folded.js';
import type { Profile } from '../../src/profile/model.js';
import { ROOT, cliEnv, cliSpawnArgs } from '../helpers/cli.js';
import { FLAMEGRAPH_DIR, requireFlamegraph, stackcollapsePerf } from '../helpers/flamegraph.js';

const SHARED_DATA = process.env.PROFILE_SHARED_DATA || join(ROOT, '..', 'shared', 'data');
const CORPUS = join(SHARED_DATA, 'perf-script-mixed.txt.zst');
const OWN = join(ROOT, 'fixtures', 'collapse', 'perf');
const work = mkdtempSync(join(tmpdir(), 'collapse-parallel-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

/** FlameGraph's perf inputs and ours that the script reads the same way (it drops dso-less stack lines). */
function perfInputs(): string[] {
  const theirs = existsSync(join(FLAMEGRAPH_DIR, 'test'))
    ? readdirSync(join(FLAMEGRAPH_DIR, 'test')).filter((f) => f.startsWith('perf-') && f.endsWith('.txt')).map((f) => join(FLAMEGRAPH_DIR, 'test', f))
    : [];
  const ours = readdirSync(OWN).filter((f) => f.endsWith('.txt') && f !== 'no-dso.txt').map((f) => join(OWN, f));
  return [...ours, ...theirs].sort();
}

/** What a plain parse of `bytes` gives. */
function onePass(file: string, bytes: Buffer, eventFilter = ''): Profile {
  const parser = new PerfParser(file, { ...PERF_DEFAULTS, eventFilter });
  parser.write(bytes);
  return parser.end({ extra: { inputFormat: 'perf' } });
}

/**
 * How parts go to parsers (threads): all to one, taking turns, or unevenly, as threads that take
 * the next part when they are done would. A parser keeps its tables from one part to the next.
 */
const ASSIGNMENTS: readonly { readonly name: string; readonly source: (part: number) => number }[] = [
  { name: 'one parser', source: () => 0 },
  { name: 'two parsers taking turns', source: (part) => part % 2 },
  { name: 'three parsers unevenly', source: (part) => [0, 0, 1, 2, 1, 0, 0, 0, 2][part % 9]! },
];

/** The parallel path's split and merge, each part parsed here instead of on a thread. */
async function inParts(file: string, bytes: Buffer, partBytes: number, eventFilter = '', source = ASSIGNMENTS[1]!.source): Promise<{ profile: Profile; parts: number } | undefined> {
  const event = eventFilter || firstEvent(bytes.subarray(0, 1 << 20));
  if (event === undefined) return undefined;
  const boundaries = await partBoundaries(file, bytes.length, partBytes);
  const merger = new PartMerger();
  const parsers = new Map<number, PerfParser>();
  for (let i = 0; i + 1 < boundaries.length; i++) {
    const number = source(i);
    let parser = parsers.get(number);
    if (parser === undefined) parsers.set(number, (parser = new PerfParser(file, { ...PERF_DEFAULTS, eventFilter: event })));
    parser.write(bytes.subarray(boundaries[i], boundaries[i + 1]));
    const { stacks, part } = parser.takePart();
    // Through structured clone, as from a worker.
    merger.add(number, structuredClone({ index: i, stacks, part }));
  }
  return { profile: merger.build({ ...PERF_DEFAULTS, eventFilter }, { extra: { inputFormat: 'perf' } }), parts: boundaries.length - 1 };
}

t.test('threads only for big files and for cores the machine leaves free', async (t) => {
  const big = PARALLEL_DEFAULTS.minBytes * 4;
  t.equal(usefulThreads({ cores: 2, load: 0.3 }), 2, '2 cores at load 0.3: both');
  t.equal(usefulThreads({ cores: 2, load: 1.2 }), 2, '2 cores at load 1.2: both (more than half a core free)');
  t.equal(usefulThreads({ cores: 2, load: 1.6 }), 1, '2 cores at load 1.6: one');
  t.equal(usefulThreads({ cores: 2, load: 7 }), 1, '2 cores at load 7: one, never none');
  t.equal(usefulThreads({ cores: 64, load: 60.2 }), 5, '64 cores at load 60.2: the ~4 left free, and this one');
  t.equal(usefulThreads({ cores: 64, load: 0 }), PARALLEL_DEFAULTS.maxThreads, `64 idle cores: at most ${PARALLEL_DEFAULTS.maxThreads}`);
  t.equal(parallelPlan('f', big, undefined, { cores: 2, load: 4 }), undefined, 'a busy machine reads with one parser');
  t.equal(parallelPlan('f', PARALLEL_DEFAULTS.minBytes - 1, undefined, { cores: 8, load: 0 }), undefined, 'a small file reads with one parser');
  const plan = parallelPlan('f', big, undefined, { cores: 2, load: 0.2 });
  t.equal(plan?.threads, 2, 'an idle 2-core machine: two threads');
  t.equal(plan?.partBytes, Math.ceil(big / (2 * PARALLEL_DEFAULTS.partsPerThread)), `${PARALLEL_DEFAULTS.partsPerThread} parts per thread`);
  t.equal(parallelPlan('f', 1000, 300, { cores: 2, load: 9 })?.threads, 2, 'forced parts: two threads even on a busy machine');
});

t.test('parts merged in order equal one parser: stacks, frames, order, notes', async (t) => {
  let compared = 0;
  for (const file of perfInputs()) {
    const bytes = readFileSync(file);
    const whole = onePass(file, bytes);
    for (const partBytes of [64, 1000, 4096, Math.ceil(bytes.length / 2)]) {
      for (const { name, source } of ASSIGNMENTS) {
        const parted = await inParts(file, bytes, partBytes, '', source);
        if (parted === undefined) {
          t.ok(whole.metadata.extra?.event === undefined, `${basename(file)}: no event in the head, and none in the file`);
          continue;
        }
        const label = `${basename(file)} in ${parted.parts} parts of ~${partBytes} bytes, ${name}`;
        t.equal(foldedLines(parted.profile).join('\n'), foldedLines(whole).join('\n'), `${label}: same folded lines`);
        t.same(parted.profile.frames, whole.frames, `${label}: same frames in the same order`);
        t.same(parted.profile.stacks, whole.stacks, `${label}: same stacks in the same order`);
        t.same(parted.profile.metadata, whole.metadata, `${label}: same metadata and notes`);
        compared++;
      }
    }
  }
  t.ok(compared >= 24, `${compared} splits compared`);
});

t.test('a chosen event and a cut-off last sample survive the split', async (t) => {
  const two = join(OWN, 'two-events.txt');
  const bytes = readFileSync(two);
  const chosen = onePass(two, bytes, 'task-clock:');
  const parted = await inParts(two, bytes, 200, 'task-clock:');
  t.ok(parted && parted.parts > 2, 'cut in several parts');
  t.same(parted?.profile.metadata, chosen.metadata, '--event-filter task-clock: notes equal');
  // Without its last blank line the last sample is left out, and the note names its header line in the whole file.
  const cut = join(work, 'cut.txt');
  const text = readFileSync(join(OWN, 'system-wide.txt'));
  writeFileSync(cut, text.subarray(0, text.lastIndexOf('\n\n')));
  const cutBytes = readFileSync(cut);
  const partedCut = await inParts(cut, cutBytes, 500);
  const wholeCut = onePass(cut, cutBytes);
  t.match(wholeCut.metadata.notes?.join('\n') ?? '', /skipped the last sample \(header at line \d+\)/, 'one parser notes the cut-off sample');
  t.same(partedCut?.profile.metadata.notes, wholeCut.metadata.notes, `${partedCut?.parts} parts: the same note, the same line`);
});

function cli(args: readonly string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const run = spawnSync(...cliSpawnArgs(args), { cwd: ROOT, env: cliEnv(), maxBuffer: 1 << 28 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr.toString('utf8') };
}

t.test('through the CLI with worker threads: identical to one thread and to stackcollapse-perf.pl', async (t) => {
  if (!requireFlamegraph(t, 'stackcollapse-perf.pl', 'test')) return;
  const options = [[], ['--pid'], ['--tid', '--all'], ['--addrs']];
  let compared = 0;
  for (const file of perfInputs()) {
    const flags = options[compared % options.length]!;
    const perl = stackcollapsePerf(flags, file);
    const single = cli(['collapse', ...flags, file]);
    const parallel = cli(['collapse', ...flags, '--parallel-part-bytes', '700', file]);
    const label = `${basename(file)} ${flags.join(' ')}`;
    t.equal(parallel.status, 0, `${label}: exit 0 on threads`);
    t.ok(parallel.stdout.equals(single.stdout), `${label}: threads equal one thread (${parallel.stdout.length} bytes)`);
    t.equal(parallel.stderr, single.stderr, `${label}: the same notes on stderr`);
    t.ok(parallel.stdout.equals(perl.stdout), `${label}: threads equal stackcollapse-perf.pl`);
    compared++;
  }
  t.ok(compared >= 5, `${compared} inputs`);
  // A part that fails: the error names the line in the whole file, as one parser's does.
  const bad = join(work, 'bad.txt');
  const good = readFileSync(join(OWN, 'system-wide.txt'), 'utf8');
  writeFileSync(bad, `${good}${good}not a perf line\n\n${good}`);
  const badSingle = cli(['collapse', bad]);
  const badParallel = cli(['collapse', '--parallel-part-bytes', '300', bad]);
  t.equal(badSingle.status, 2, 'a bad line: exit 2');
  t.same(badParallel, badSingle, `threads report the same error: ${badSingle.stderr.trim()}`);
});

t.test('the shared corpus on threads: identical to one thread and to stackcollapse-perf.pl', async (t) => {
  if (!requireFlamegraph(t, 'stackcollapse-perf.pl')) return;
  if (!existsSync(CORPUS)) {
    if (process.env.CI === 'true') t.fail(`${CORPUS} is missing (CI must provide ../shared beside the repo)`);
    else t.pass('skipped', { skip: `${CORPUS} is missing` });
    return;
  }
  const input = join(work, 'corpus.txt');
  const unzip = spawnSync('zstd', ['-dc', CORPUS], { maxBuffer: 1 << 30 });
  t.equal(unzip.status, 0, `zstd -dc exits 0 ${unzip.error?.message ?? ''}`);
  writeFileSync(input, unzip.stdout);
  const single = cli(['collapse', input]);
  const parallel = cli(['collapse', '--parallel-part-bytes', String(4 << 20), input]);
  const perl = stackcollapsePerf([], input);
  t.equal(parallel.status, 0, `exit 0 on threads ${parallel.stderr.slice(0, 200)}`);
  t.ok(parallel.stdout.length > 1 << 20, `${parallel.stdout.length} bytes of folded stacks`);
  t.ok(parallel.stdout.equals(single.stdout), '~10 parts on threads equal one thread byte for byte');
  t.equal(parallel.stderr, single.stderr, 'the same notes on stderr');
  t.ok(parallel.stdout.equals(perl.stdout), 'equal to stackcollapse-perf.pl byte for byte');
});
