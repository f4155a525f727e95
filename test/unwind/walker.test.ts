// The BPF walker against the reference walker (src/unwind/walker.ts): a program built without
// frame pointers spins inside a qsort comparator, its call chain frozen; BPF samples it while it
// runs, then ptrace stops it and the reference walker unwinds the same stack from its registers
// and memory with the same tables. Both must give the same return addresses and the same outcome.
import t from 'tap';
import { spawn } from 'node:child_process';
import { RECORD_DEFAULTS, record } from '../../src/record/index.js';
import { captureProcess } from '../../src/host/index.js';
import { readUnwindMarker } from '../../src/profile/raw.js';
import { compileRequested, TableCompiler } from '../../src/unwind/compiler.js';
import { UnwindLoader, type UnwindMappingEntry } from '../../src/unwind/loader.js';
import { walkStack, type WalkMapping } from '../../src/unwind/walker.js';
import { requiresBpf, requiresTools } from '../helpers/requires.js';
import { buildWithoutFramePointers } from './programs.js';
import { stopProcess } from './ptrace.js';

if (requiresBpf(t) && requiresTools(t, 'gcc')) {
  const program = buildWithoutFramePointers('unwind');

  t.test('same frames from the same registers and memory', async (t) => {
    const child = spawn(program, ['hold', '60'], { stdio: 'ignore' });
    t.teardown(() => child.kill('SIGKILL'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pid = child.pid!;
    const compiler = new TableCompiler();
    t.teardown(() => compiler.close());
    // The worker thread starts before the recording (under tap it compiles its TypeScript first).
    await compiler.compile({ path: '[vdso]', paths: [] });
    const result = await record(
      { ...RECORD_DEFAULTS, frequency: 499, userOnly: true, pids: [pid], durationSeconds: 3 },
      { captureProcess, unwindTables: { compile: (request) => compiler.compile(request) } },
    );
    t.equal(result.unwind.mode, 'tables', 'walked by tables');
    const walked = result.raw.samples.filter((s) => s.pid === pid && readUnwindMarker(s.userStack.at(-1) ?? 0n) !== undefined);
    const total = result.raw.samples.filter((s) => s.pid === pid).reduce((n, s) => n + s.count, 0);
    t.ok(walked.length > 0 && total > 300, `samples walked by tables (${walked.reduce((n, s) => n + s.count, 0)} of ${total})`);

    // The same tables, placed by the same loader into a target that only keeps what it is given.
    const placed = new Map<number, readonly UnwindMappingEntry[]>();
    const rowsAt = new Map<number, { rows: Uint8Array; rowCount: number }>();
    const bucketsAt = new Map<number, Uint32Array>();
    const loader = new UnwindLoader(
      {
        unwindRowCapacity: 1 << 24,
        writeUnwindRows: (first, rows, rowCount) => void rowsAt.set(first, { rows, rowCount }),
        unwindBucketCapacity: 1 << 24,
        writeUnwindBuckets: (first, starts) => void bucketsAt.set(first, starts),
        setProcessUnwind: (tgid, _start, entries) => placed.set(tgid, entries).size > 0,
        deleteProcessUnwind: () => undefined,
      },
      async (request) => compileRequested(request),
    );
    const snapshot = captureProcess(pid);
    t.ok(snapshot, 'captured');
    loader.loadProcess(snapshot!, 0);
    await loader.idle();
    const walkMappings: WalkMapping[] = (placed.get(pid) ?? []).map((entry) => {
      const rows = rowsAt.get(entry.firstRow)!;
      const starts = bucketsAt.get(entry.firstBucket)!;
      return { start: entry.start, end: entry.end, bias: entry.bias, table: rows && starts && { ...rows, index: { base: entry.bucketBase, shift: entry.bucketShift, starts } } };
    });
    t.ok(walkMappings.length >= 3 && walkMappings.every((m) => m.table !== undefined), `${walkMappings.length} mappings with tables`);

    const stopped = stopProcess(pid);
    let reference;
    try {
      reference = walkStack(stopped.registers, walkMappings, stopped.read);
    } finally {
      stopped.release();
    }
    t.equal(reference.stop, 0, 'the reference walk reaches the outermost frame');
    t.ok(reference.frames.length > 8, `reference: ${reference.frames.length} frames`);

    const callers = (frames: readonly bigint[]): string => frames.slice(1).map((a) => a.toString(16)).join(' ');
    const expected = callers(reference.frames);
    let same = 0;
    let weight = 0;
    for (const sample of walked) {
      const marker = readUnwindMarker(sample.userStack.at(-1)!)!;
      const frames = sample.userStack.slice(0, -1);
      weight += sample.count;
      if (callers(frames) === expected && marker.stop === reference.stop && marker.method === reference.method) same += sample.count;
    }
    t.ok(same / weight >= 0.99, `${same} of ${weight} BPF-walked samples have the reference walker's ${reference.frames.length - 1} return addresses and outcome`);
  });
}
