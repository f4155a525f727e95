// Folding exited processes (src/record/accumulator.ts): the relocation rules on hand-made
// snapshots, then on a real fork-heavy recording, where the symbolized folded output must be
// byte-identical with and without folding. About 10 s (5 s of recording).
import t from 'tap';
import { existsSync } from 'node:fs';
import { SampleAccumulator, UNCAPTURED_SPACE } from '../../src/record/accumulator.js';
import { ProcessGenerations } from '../../src/record/generations.js';
import { RECORD_DEFAULTS, record } from '../../src/record/index.js';
import type { HarvestedCount } from '../../src/record/session.js';
import { pack } from '../../src/record/packed-stack.js';
import type { Mapping, ProcessSnapshot } from '../../src/profile/raw.js';
import { captureProcess, closeCapturedFiles, HOST } from '../../src/host/index.js';
import { symbolize } from '../../src/symbolize/index.js';
import { foldedLines } from '../../src/profile/folded.js';
import { requiresBpf } from '../helpers/requires.js';
import { buildShortLived, startForkLoops } from '../endurance/workload.mjs';

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const mapping = (start: bigint, size: bigint, offset: bigint, perms: string, path: string, inode = 42): Mapping => ({
  start,
  end: start + size,
  offset,
  perms,
  dev: '08:01',
  inode: path.startsWith('/') ? inode : 0,
  path,
});
/** A process with libc's text at `base` + 0x1000 (file offset 0x1000), its heap and anonymous memory. */
const snapshot = (pid: number, base: bigint, extra: Partial<ProcessSnapshot> = {}): ProcessSnapshot => ({
  pid,
  comm: 'short',
  mappings: [
    mapping(base, 0x1000n, 0n, 'r--p', LIBC),
    mapping(base + 0x1000n, 0x10000n, 0x1000n, 'r-xp', LIBC),
    mapping(base + 0x100000n, 0x2000n, 0n, 'rw-p', '[heap]'),
    mapping(base + 0x200000n, 0x2000n, 0n, 'rwxp', ''),
  ],
  fds: new Map([[LIBC, 7]]),
  ...extra,
});
const sample = (tgid: number, userStack: bigint[], count = 1): HarvestedCount => ({ tgid, pid: tgid, start: 0, comm: 'short', kernelStack: pack([0xffffffff81000000n]), userStack: pack(userStack), count });

t.test('two processes with libc at different addresses fold into one entry without pid', async (t) => {
  const accumulator = new SampleAccumulator(0);
  const snapshots = new Map([
    [100, snapshot(100, 0x7f0000000000n)],
    [200, snapshot(200, 0x7e0000000000n)],
  ]);
  // The same two functions (file offsets 0x1234 and 0x2345) in both processes.
  accumulator.add(sample(100, [0x7f0000001234n, 0x7f0000002345n], 3));
  accumulator.add(sample(200, [0x7e0000001234n, 0x7e0000002345n], 4));
  accumulator.add(sample(100, [0x7f0000001234n, 0x7f0000002345n], 1));
  t.equal(accumulator.entries, 2, 'one entry per process before folding (harvests merged)');
  t.ok(accumulator.overBudget(snapshots.size), 'over a zero budget');
  const { folded } = accumulator.fold([100, 200], snapshots);
  t.same([...folded].sort(), [100, 200]);
  t.equal(snapshots.size, 0, 'their snapshots are released');
  const samples = accumulator.samples();
  t.equal(samples.length, 1, 'one folded entry');
  t.equal(samples[0]!.count, 8, 'counts summed');
  t.ok(samples[0]!.pid < 0 && samples[0]!.pid !== UNCAPTURED_SPACE, 'a shared address space pid');
  const [space] = [...accumulator.sharedSpaces()];
  t.equal(space!.pid, samples[0]!.pid);
  const text = space!.mappings.find((m) => samples[0]!.userStack[0]! >= m.start && samples[0]!.userStack[0]! < m.end)!;
  t.equal(text.path, LIBC);
  t.equal(samples[0]!.userStack[0]! - text.start + text.offset, 0x1234n, 'the file offset is kept');
  t.equal(space!.fds?.get(LIBC), 7, 'the captured descriptor goes with it');
  t.equal(accumulator.foldedProcesses, 2);
});

t.test('what is not folded: anonymous frames, heap frames, JIT processes, a path taken by another file', async (t) => {
  const accumulator = new SampleAccumulator(0);
  const snapshots = new Map([
    [1, snapshot(1, 0x7f0000000000n)],
    [2, snapshot(2, 0x7f0000000000n)],
    [3, snapshot(3, 0x7f0000000000n, { fds: new Map([[LIBC, 7], ['/tmp/perf-3.map', 9]]) })],
    // libc replaced on disk (another inode) while the first one is still in the shared space
    [4, snapshot(4, 0x7f0000000000n, { fds: new Map([[LIBC, 8]]), mappings: [mapping(0x7f0000001000n, 0x10000n, 0x1000n, 'r-xp', LIBC, 43)] })],
    [5, snapshot(5, 0x7f0000000000n)],
  ]);
  accumulator.add(sample(1, [0x7f0000200010n])); // anonymous memory: named by its address
  accumulator.add(sample(2, [0x7f0000100010n])); // [heap]: likewise
  accumulator.add(sample(3, [0x10n])); // unmapped, but a perf map might name it
  accumulator.add(sample(5, [0x7f0000001234n, 0x10n])); // unmapped without a JIT: [unknown] anywhere
  const first = accumulator.fold([5], snapshots);
  t.same(first.folded, [5], 'an unmapped address folds when no perf map could name it');
  accumulator.add(sample(4, [0x7f0000001234n])); // the other libc, at a path the shared space already names
  const { folded } = accumulator.fold([1, 2, 3, 4], snapshots);
  t.same(folded, [], 'none of them folds');
  t.same([...snapshots.keys()].sort(), [1, 2, 3, 4], 'their snapshots are kept');
  t.equal(accumulator.samples().filter((s) => s.pid > 0).length, 4, 'their samples keep pid and tid');
});

t.test('a process never captured folds into the uncaptured space with its depth kept', async (t) => {
  const accumulator = new SampleAccumulator(0);
  accumulator.add(sample(300, [0x7f0000001234n, 0x7f0000002345n], 2));
  accumulator.add(sample(301, [0x7e0000001111n, 0x7e0000002222n], 5));
  accumulator.fold([300, 301], new Map());
  t.same(
    accumulator.samples().map((s) => [s.pid, s.userStack, s.count]),
    [[UNCAPTURED_SPACE, [0n, 0n], 7]],
  );
});

t.test('a reused pid: the earlier process and its late samples are named through its own snapshot', async (t) => {
  const accumulator = new SampleAccumulator();
  const captures = new Map([[100, snapshot(100, 0x7e0000000000n, { startTicks: 200 })]]);
  const generations = new ProcessGenerations(accumulator, (pid) => captures.get(pid), Date.now());
  const at = (start: number, stack: bigint[]): HarvestedCount => ({ ...sample(100, stack), start });
  // The first process (started at tick 100: 1 s after boot) was never captured under that start.
  generations.add(at(1e9, [0x7f0000001234n]));
  t.equal(generations.snapshots.size, 0, 'a snapshot of another start time is refused');
  // The second one, started at tick 200, is captured; the first one's samples leave pid 100.
  generations.add(at(2e9, [0x7e0000001234n]));
  t.equal(generations.reusedPids, 1);
  t.equal(generations.snapshots.get(100)?.startTicks, 200, 'the second process holds the pid');
  // A late sample of the first process, harvested after the second showed up.
  generations.add(at(1e9, [0x7f0000002345n]));
  const samples = accumulator.samples();
  t.same(samples.filter((s) => s.pid === 100).map((s) => s.userStack), [[0x7e0000001234n]], 'only the second process keeps pid 100');
  t.same(samples.filter((s) => s.pid === UNCAPTURED_SPACE).map((s) => [s.userStack, s.count]), [[[0n], 2]], 'the first one\'s samples, early and late, as never captured');
});

t.test('retiring a process whose frames cannot be shared keeps it whole in a space of its own', async (t) => {
  const accumulator = new SampleAccumulator();
  const jit = snapshot(300, 0x7f0000000000n);
  accumulator.add(sample(300, [0x7f0000200010n, 0x7f0000001234n], 2)); // anonymous memory: not shareable
  accumulator.retire(300, jit);
  const [space] = [...accumulator.sharedSpaces()];
  t.ok(space && space.pid < 0, 'a negative pid of its own');
  t.same(space!.mappings, jit.mappings, 'with its own mappings');
  t.same(accumulator.samples().map((s) => [s.pid, s.userStack, s.count]), [[space!.pid, [0x7f0000200010n, 0x7f0000001234n], 2]], 'addresses kept as they were');
});

if (requiresBpf(t)) {
  t.test('a real fork-heavy recording: folding every exited process changes no name', async (t) => {
    const loops = startForkLoops(buildShortLived(), 2);
    // Nothing folded while recording: the recording's own shared spaces would take the pids this
    // second accumulator gives its spaces (both count down from -2).
    const result = await record({ ...RECORD_DEFAULTS, frequency: 999, durationSeconds: 5, foldBudget: Number.MAX_SAFE_INTEGER }, { captureProcess });
    await loops.stop();
    const raw = result.raw;
    t.equal(result.raw.metadata.extra?.foldedProcesses, 0, 'nothing folded while recording');
    const accumulator = new SampleAccumulator(0);
    for (const s of raw.samples) accumulator.add({ tgid: s.pid, pid: s.tid, start: 0, comm: s.comm, kernelStack: pack(s.kernelStack), userStack: pack(s.userStack), count: s.count });
    const processes = new Map(raw.processes);
    const exited = [...new Set([...accumulator.processes(), ...processes.keys()])].filter((pid) => !existsSync(`/proc/${pid}`));
    const { folded } = accumulator.fold(exited, processes);
    for (const space of accumulator.sharedSpaces()) processes.set(space.pid, space);
    t.ok(folded.length >= 0.9 * exited.length && folded.length > 100, `${folded.length} of ${exited.length} exited processes folded`);
    t.ok(accumulator.samples().length < raw.samples.length / 1.5, `${raw.samples.length} entries became ${accumulator.samples().length}`);
    // Without the live-process fallback: a process that exits between the two runs would be named
    // differently by the second, folding or not.
    // And one reading of /proc/kallsyms for both: a BPF program of another recorder running
    // beside this test is named in the first and gone from the second.
    const kallsyms = HOST.kallsyms();
    const host = { ...HOST, liveMappings: undefined, kallsyms: () => kallsyms };
    const before = await symbolize(raw, { host });
    const after = await symbolize({ samples: accumulator.samples(), processes, metadata: raw.metadata }, { host });
    closeCapturedFiles();
    t.equal(after.totalWeight, before.totalWeight, 'every sample kept');
    t.equal(foldedLines(after).join('\n'), foldedLines(before).join('\n'), 'the folded output is byte-identical');
  });
}
