// Row space given back: the loader against a target that keeps the kernel arrays' bytes, with the
// real tables of real binaries (coreutils programs kept waiting on their stdin, libc, the dynamic
// loader, the vDSO) mapped by real processes. The arrays are small enough that binaries compete
// for them; after every step each live process's entries must point at exactly its own binary's
// rows and row index.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { captureProcess, processExists } from '../../src/host/index.js';
import type { ProcessSnapshot } from '../../src/profile/raw.js';
import { compileRequested, type CompiledBinary } from '../../src/unwind/compiler.js';
import { UnwindLoader, type UnwindMappingEntry, type UnwindTarget } from '../../src/unwind/loader.js';
import { ArraySpace } from '../../src/unwind/space.js';
import { requiresTools } from '../helpers/requires.js';

const ROW = 12;

/** The kernel's arrays and process table, as bytes, with the order in which they were written. */
class KernelArrays implements UnwindTarget {
  readonly rows: Uint8Array;
  readonly buckets: Uint32Array;
  readonly entries = new Map<number, readonly UnwindMappingEntry[]>();
  readonly log: string[] = [];
  constructor(
    readonly unwindRowCapacity: number,
    readonly unwindBucketCapacity = Math.ceil(unwindRowCapacity / 2) + 8192,
  ) {
    this.rows = new Uint8Array(unwindRowCapacity * ROW);
    this.buckets = new Uint32Array(unwindBucketCapacity);
  }
  writeUnwindRows(first: number, rows: Uint8Array, count: number): void {
    if (first + count > this.unwindRowCapacity) throw new Error(`rows ${first}+${count} past ${this.unwindRowCapacity}`);
    this.rows.set(rows.subarray(0, count * ROW), first * ROW);
    this.log.push(`rows ${first} ${count}`);
  }
  writeUnwindBuckets(first: number, starts: Uint32Array): void {
    if (first + starts.length > this.unwindBucketCapacity) throw new Error(`buckets ${first}+${starts.length} past ${this.unwindBucketCapacity}`);
    this.buckets.set(starts, first);
  }
  setProcessUnwind(tgid: number, _start: number, mappings: readonly UnwindMappingEntry[]): boolean {
    this.entries.set(tgid, mappings);
    this.log.push(`set ${tgid}`);
    return true;
  }
  deleteProcessUnwind(tgid: number): void {
    this.entries.delete(tgid);
    this.log.push(`delete ${tgid}`);
  }
}

const tables = new Map<string, CompiledBinary>();
function tableOf(path: string): CompiledBinary {
  let table = tables.get(path);
  if (!table) {
    const compiled = compileRequested({ path, paths: path === '[vdso]' ? [] : [path] });
    if (typeof compiled === 'string') throw new Error(`${path}: ${compiled}`);
    tables.set(path, (table = compiled));
  }
  return table;
}
const rowsOf = (path: string): number => tableOf(path).rowCount;

/** A program waiting on its stdin until killed, once its image and libc are mapped. */
async function waiting(program: string, args: string[] = []): Promise<{ child: ChildProcess; snapshot: ProcessSnapshot; stop: () => Promise<void> }> {
  const child = spawn(program, args, { stdio: ['pipe', 'ignore', 'ignore'] });
  const pid = child.pid!;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 200; i++) {
    const snapshot = captureProcess(pid);
    // Its image and libc mapped (the dynamic loader maps libc a moment after the exec).
    const code = snapshot?.mappings.filter((m) => m.perms.includes('x')).map((m) => m.path) ?? [];
    if (snapshot && code.includes(program) && code.some((p) => p.endsWith('/libc.so.6'))) {
      return {
        child,
        snapshot,
        stop: async () => {
          child.kill('SIGKILL');
          await exited;
          // Reaped: /proc/PID is gone, as processExists sees it.
          for (let j = 0; j < 100 && processExists(pid); j++) await new Promise((resolve) => setTimeout(resolve, 10));
        },
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  child.kill('SIGKILL');
  throw new Error(`${program} did not start`);
}

/** libc, the dynamic loader (as this process maps them) and the vDSO: what `record` places first. */
type Waiting = Awaited<ReturnType<typeof waiting>>;

/** Starts `program`, captures it and hands it to the loader; the process is killed when the test ends. */
function starter(t: Test, loader: UnwindLoader, snapshots: Map<number, ProcessSnapshot>): (program: string, args?: string[]) => Promise<Waiting> {
  return async (program, args = []) => {
    const p = await waiting(program, args);
    t.teardown(() => p.child.kill('SIGKILL'));
    snapshots.set(p.snapshot.pid, p.snapshot);
    loader.loadProcess(p.snapshot, 0);
    await loader.idle();
    return p;
  };
}

function sharedBinaries(): string[] {
  const own = captureProcess(process.pid)!.mappings.map((m) => m.path).filter((p) => /\/(libc\.so\.6|ld-linux[^/]*\.so\.\d+)$/.test(p));
  return [...new Set(own), '[vdso]'];
}

/** Every entry of every process in `kernel` points at its own binary's rows and row index; how many entries. */
function checkEntries(t: Test, kernel: KernelArrays, snapshots: ReadonlyMap<number, ProcessSnapshot>): number {
  let checked = 0;
  for (const [pid, entries] of kernel.entries) {
    const snapshot = snapshots.get(pid);
    if (!snapshot) {
      t.fail(`process ${pid} has an entry but is not running`);
      continue;
    }
    for (const entry of entries) {
      const mapping = snapshot.mappings.find((m) => m.start === entry.start)!;
      const table = tableOf(mapping.path);
      const rows = kernel.rows.subarray(entry.firstRow * ROW, (entry.firstRow + entry.rowCount) * ROW);
      const buckets = kernel.buckets.subarray(entry.firstBucket, entry.firstBucket + entry.bucketCount + 1);
      const same = entry.rowCount === table.rowCount && Buffer.compare(rows, table.rows.subarray(0, table.rowCount * ROW)) === 0 && Buffer.compare(Buffer.from(buckets.buffer, buckets.byteOffset, buckets.byteLength), Buffer.from(table.index.starts.buffer, table.index.starts.byteOffset, table.index.starts.byteLength)) === 0;
      if (!same) t.fail(`process ${pid}: ${mapping.path}'s entry points at rows ${entry.firstRow}+${entry.rowCount} that are not its table`);
      checked++;
    }
  }
  return checked;
}

/** `pid`'s entry for the mapping of `path` (or of the path `path` matches). */
const entryFor = (kernel: KernelArrays, pid: number, snapshot: ProcessSnapshot, path: string | RegExp): UnwindMappingEntry | undefined =>
  kernel.entries.get(pid)?.find((e) => {
    const mapped = snapshot.mappings.find((m) => m.start === e.start)?.path ?? '';
    return typeof path === 'string' ? mapped === path : path.test(mapped);
  });

t.test('free blocks: first fit, neighbours merged, a double release refused', async (t) => {
  // Row counts of real binaries, as the loader asks for them.
  const [sleep, cat, tail] = ['/usr/bin/sleep', '/usr/bin/cat', '/usr/bin/tail'].map(rowsOf) as [number, number, number];
  const space = new ArraySpace(sleep + cat + tail);
  const a = space.allocate(sleep)!;
  const b = space.allocate(cat)!;
  const c = space.allocate(tail)!;
  t.same([a, b, c], [0, sleep, sleep + cat], 'one after another from the start');
  t.equal(space.allocate(1), undefined, 'full');
  space.release(a, sleep);
  space.release(c, tail);
  t.equal(space.fragments, 2, 'two free blocks around the taken one');
  t.equal(space.allocate(sleep + 1), c, 'first fit skips the block too short');
  space.release(c, sleep + 1);
  space.release(b, cat);
  t.equal(space.fragments, 1, 'releasing the middle merges all three');
  t.equal(space.largest, sleep + cat + tail);
  t.throws(() => space.release(b, cat), /already free/, 'a double release is a bug');
  t.equal(space.allocate(sleep + cat + tail), 0, 'the whole array in one piece again');
});

if (requiresTools(t, 'sleep', 'cat', 'tail', 'tee')) {
  const shared = sharedBinaries();
  const sharedRows = shared.reduce((n, p) => n + rowsOf(p), 0);
  const loaderFor = (kernel: KernelArrays): UnwindLoader => {
    const loader = new UnwindLoader(kernel, async (request) => compileRequested(request), processExists);
    loader.preload(shared);
    return loader;
  };
  const programs = ['/usr/bin/sleep', '/usr/bin/cat', '/usr/bin/tail', '/usr/bin/tee'];
  for (const program of programs) {
    t.ok(rowsOf(program) > 0, `${program}: ${rowsOf(program)} rows`);
  }

  t.test('an exited process\'s binary gives its space to a new binary; one that comes back is revived without a write', async (t) => {
    const [tail, sleep] = ['/usr/bin/tail', '/usr/bin/sleep'];
    // Room for the shared libraries, tail, and 100 rows more: sleep fits only where tail was.
    const kernel = new KernelArrays(sharedRows + rowsOf(tail) + 100);
    const loader = loaderFor(kernel);
    await loader.idle();
    const snapshots = new Map<number, ProcessSnapshot>();
    const first = await waiting(tail, ['-f', '/dev/null']);
    t.teardown(() => first.child.kill('SIGKILL'));
    snapshots.set(first.snapshot.pid, first.snapshot);
    loader.loadProcess(first.snapshot, 0);
    await loader.idle();
    const tailEntry = entryFor(kernel, first.snapshot.pid, first.snapshot, tail);
    t.ok(tailEntry, 'tail has its table');
    t.ok(checkEntries(t, kernel, snapshots) >= 3, 'tail\'s, libc\'s and the loader\'s entries point at their own rows');

    // The recording learns of the exit (a fold): tail becomes idle, its rows still in place.
    await first.stop();
    snapshots.delete(first.snapshot.pid);
    loader.forgetProcess(first.snapshot.pid);
    t.notOk(kernel.entries.has(first.snapshot.pid), 'its entry is deleted');
    t.match(loader.stats(), { idleBinaries: 1, idleRows: rowsOf(tail), evictedBinaries: 0, rows: sharedRows + rowsOf(tail) });

    const second = await waiting(sleep, ['60']);
    t.teardown(() => second.child.kill('SIGKILL'));
    snapshots.set(second.snapshot.pid, second.snapshot);
    loader.loadProcess(second.snapshot, 0);
    await loader.idle();
    const sleepEntry = entryFor(kernel, second.snapshot.pid, second.snapshot, sleep);
    t.equal(sleepEntry?.firstRow, tailEntry!.firstRow, 'sleep is placed where tail was');
    t.equal(sleepEntry?.firstBucket, tailEntry!.firstBucket, 'and its row index where tail\'s was');
    t.match(loader.stats(), { binaries: shared.length + 1, idleBinaries: 0, evictedBinaries: 1, evictedRows: rowsOf(tail), rows: sharedRows + rowsOf(sleep), peakRows: sharedRows + rowsOf(tail) });
    t.same([...loader.stats().unplaced], [], 'every binary has its table');
    t.ok(checkEntries(t, kernel, snapshots) >= 3, 'sleep\'s entries point at its own rows');

    // sleep exits and comes back before anything needs its space: no rows are written again.
    await second.stop();
    snapshots.delete(second.snapshot.pid);
    loader.forgetProcess(second.snapshot.pid);
    const writes = kernel.log.filter((l) => l.startsWith('rows')).length;
    const third = await waiting(sleep, ['60']);
    t.teardown(() => third.child.kill('SIGKILL'));
    snapshots.set(third.snapshot.pid, third.snapshot);
    loader.loadProcess(third.snapshot, 0);
    await loader.idle();
    t.equal(kernel.log.filter((l) => l.startsWith('rows')).length, writes, 'no rows written for the returning binary');
    t.equal(entryFor(kernel, third.snapshot.pid, third.snapshot, sleep)?.firstRow, sleepEntry!.firstRow, 'its table where it was');
    t.match(loader.stats(), { idleBinaries: 0, evictedBinaries: 1 });
    checkEntries(t, kernel, snapshots);
    await third.stop();
  });

  t.test('a binary mapped by a live process is never overwritten; the one that did not fit gets its space once that process exits', async (t) => {
    const [sleep, tail] = ['/usr/bin/sleep', '/usr/bin/tail'];
    // Room for the shared libraries, tail and 100 rows more: with sleep placed, tail does not fit.
    const kernel = new KernelArrays(sharedRows + rowsOf(tail) + 100);
    const loader = loaderFor(kernel);
    await loader.idle();
    const snapshots = new Map<number, ProcessSnapshot>();
    const holder = await waiting(sleep, ['60']);
    t.teardown(() => holder.child.kill('SIGKILL'));
    snapshots.set(holder.snapshot.pid, holder.snapshot);
    loader.loadProcess(holder.snapshot, 0);
    await loader.idle();
    const held = entryFor(kernel, holder.snapshot.pid, holder.snapshot, sleep);
    t.ok(held, 'sleep has its table');

    const late = await waiting(tail, ['-f', '/dev/null']);
    t.teardown(() => late.child.kill('SIGKILL'));
    snapshots.set(late.snapshot.pid, late.snapshot);
    loader.loadProcess(late.snapshot, 0);
    await loader.idle();
    t.equal(loader.stats().unplaced.get(tail), 'row-space-full', 'tail does not fit while sleep runs');
    t.notOk(entryFor(kernel, late.snapshot.pid, late.snapshot, tail), 'tail has no entry');
    t.ok(entryFor(kernel, late.snapshot.pid, late.snapshot, /\/libc\.so\.6$/), 'its libc has one');
    t.match(loader.stats(), { evictedBinaries: 0, idleBinaries: 0 });
    t.ok(checkEntries(t, kernel, snapshots) >= 6, 'sleep\'s rows are intact');

    // Exited, and not yet forgotten by the recording: the loader finds out when a new process is
    // captured while a binary waits for room, and gives tail sleep's space.
    await holder.stop();
    snapshots.delete(holder.snapshot.pid);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const next = await waiting('/usr/bin/cat');
    t.teardown(() => next.child.kill('SIGKILL'));
    snapshots.set(next.snapshot.pid, next.snapshot);
    loader.loadProcess(next.snapshot, 0);
    await loader.idle();
    await loader.idle();
    const tailEntry = entryFor(kernel, late.snapshot.pid, late.snapshot, tail);
    t.equal(tailEntry?.firstRow, held!.firstRow, 'tail is placed where sleep was');
    const deleted = kernel.log.indexOf(`delete ${holder.snapshot.pid}`);
    const written = kernel.log.indexOf(`rows ${held!.firstRow} ${rowsOf(tail)}`);
    t.ok(deleted >= 0 && deleted < written, 'sleep\'s process entry was deleted before its rows were overwritten');
    t.notOk(loader.stats().unplaced.has(tail), 'tail is no longer without a table');
    t.match(loader.stats(), { placedAfterWaiting: 1, evictedBinaries: 1, evictedRows: rowsOf(sleep) });
    t.equal(loader.stats().unplaced.get('/usr/bin/cat'), 'row-space-full', 'cat waits now, with tail live');
    checkEntries(t, kernel, snapshots);
    await late.stop();
    await next.stop();
  });

  t.test('fragmented space: nothing fits between live binaries; freed neighbours merge and the waiting binary fits', async (t) => {
    const [sleep, cat, tail] = ['/usr/bin/sleep', '/usr/bin/cat', '/usr/bin/tail'];
    // shared | sleep | cat | slack: tail fits neither in sleep's space nor in the slack, only in both with cat's.
    const slack = rowsOf(tail) - rowsOf(sleep) + 10;
    t.ok(slack < rowsOf(tail) && rowsOf(sleep) < rowsOf(tail), 'tail is longer than either piece');
    const kernel = new KernelArrays(sharedRows + rowsOf(sleep) + rowsOf(cat) + slack);
    const loader = loaderFor(kernel);
    await loader.idle();
    const snapshots = new Map<number, ProcessSnapshot>();
    const run = starter(t, loader, snapshots);
    const a = await run(sleep, ['60']);
    const b = await run(cat);
    const sleepRow = entryFor(kernel, a.snapshot.pid, a.snapshot, sleep)!.firstRow;
    t.equal(entryFor(kernel, b.snapshot.pid, b.snapshot, cat)?.firstRow, sleepRow + rowsOf(sleep), 'cat right after sleep');
    await a.stop();
    snapshots.delete(a.snapshot.pid);
    loader.forgetProcess(a.snapshot.pid);
    t.match(loader.stats(), { idleBinaries: 1, freeRowBlocks: 1 });

    const c = await run(tail, ['-f', '/dev/null']);
    // Free and idle rows together would hold tail, so sleep is evicted; the two pieces are apart.
    t.equal(loader.stats().unplaced.get(tail), 'row-space-full', 'tail does not fit in two pieces');
    t.match(loader.stats(), { evictedBinaries: 1, idleBinaries: 0, freeRowBlocks: 2, rows: sharedRows + rowsOf(cat) });
    checkEntries(t, kernel, snapshots);

    await b.stop();
    snapshots.delete(b.snapshot.pid);
    loader.forgetProcess(b.snapshot.pid);
    await loader.idle();
    t.equal(entryFor(kernel, c.snapshot.pid, c.snapshot, tail)?.firstRow, sleepRow, 'cat\'s space merged with both neighbours: tail placed where sleep was');
    t.match(loader.stats(), { evictedBinaries: 2, placedAfterWaiting: 1, freeRowBlocks: 1, rows: sharedRows + rowsOf(tail), idleBinaries: 0 });
    t.same([...loader.stats().unplaced], [], 'every binary has its table');
    t.ok(checkEntries(t, kernel, snapshots) >= 3, 'tail\'s entries point at its own rows');
    await c.stop();
  });
}

if (requiresTools(t, 'sleep', 'cat', 'tail')) {
  t.test('the smallest idle binary whose space is enough gives it, not the least recently idle one', async (t) => {
    const shared = sharedBinaries();
    const sharedRows = shared.reduce((n, p) => n + rowsOf(p), 0);
    const [tail, sleep, cat] = ['/usr/bin/tail', '/usr/bin/sleep', '/usr/bin/cat'];
    t.ok(rowsOf(cat) <= rowsOf(sleep) && rowsOf(sleep) < rowsOf(tail), 'cat fits in sleep\'s space, which is smaller than tail\'s');
    const kernel = new KernelArrays(sharedRows + rowsOf(tail) + rowsOf(sleep));
    const loader = new UnwindLoader(kernel, async (request) => compileRequested(request), processExists);
    loader.preload(shared);
    await loader.idle();
    const snapshots = new Map<number, ProcessSnapshot>();
    const run = starter(t, loader, snapshots);
    const forget = async (p: Awaited<ReturnType<typeof waiting>>): Promise<void> => {
      await p.stop();
      snapshots.delete(p.snapshot.pid);
      loader.forgetProcess(p.snapshot.pid);
    };
    const a = await run(tail, ['-f', '/dev/null']);
    const b = await run(sleep, ['60']);
    const tailRow = entryFor(kernel, a.snapshot.pid, a.snapshot, tail)!.firstRow;
    const sleepRow = entryFor(kernel, b.snapshot.pid, b.snapshot, sleep)!.firstRow;
    await forget(a);
    await forget(b);
    t.match(loader.stats(), { idleBinaries: 2, idleRows: rowsOf(tail) + rowsOf(sleep), rows: kernel.unwindRowCapacity });
    const c = await run(cat);
    t.equal(entryFor(kernel, c.snapshot.pid, c.snapshot, cat)?.firstRow, sleepRow, 'cat placed where sleep was');
    t.match(loader.stats(), { idleBinaries: 1, idleRows: rowsOf(tail), evictedBinaries: 1, evictedRows: rowsOf(sleep) });
    // tail, idle the longest, comes back: its rows are still in place.
    const d = await run(tail, ['-f', '/dev/null']);
    t.equal(entryFor(kernel, d.snapshot.pid, d.snapshot, tail)?.firstRow, tailRow, 'tail revived in place');
    t.match(loader.stats(), { idleBinaries: 0, evictedBinaries: 1 });
    t.ok(checkEntries(t, kernel, snapshots) >= 6, 'cat\'s and tail\'s entries point at their own rows');
    await c.stop();
    await d.stop();
  });
}

if (requiresTools(t, 'sleep', 'cat', 'tail', 'tee', 'head', 'od', 'gzip')) {
  t.test('a stream of new binaries through space that holds one of them at a time (a long-running agent)', async (t) => {
    const shared = sharedBinaries();
    const sharedRows = shared.reduce((n, p) => n + rowsOf(p), 0);
    const stream: [string, string[]][] = [
      ['/usr/bin/sleep', ['60']],
      ['/usr/bin/cat', []],
      ['/usr/bin/tail', ['-f', '/dev/null']],
      ['/usr/bin/tee', []],
      ['/usr/bin/head', []],
      ['/usr/bin/od', []],
      ['/usr/bin/gzip', ['-c']],
    ];
    const largest = Math.max(...stream.map(([p]) => rowsOf(p)));
    const kernel = new KernelArrays(sharedRows + largest);
    const loader = new UnwindLoader(kernel, async (request) => compileRequested(request), processExists);
    loader.preload(shared);
    await loader.idle();
    let evicted = 0;
    for (const [i, [program, args]] of stream.entries()) {
      const p = await waiting(program, args);
      t.teardown(() => p.child.kill('SIGKILL'));
      loader.loadProcess(p.snapshot, 0);
      await loader.idle();
      t.ok(entryFor(kernel, p.snapshot.pid, p.snapshot, program), `${program} has its table`);
      t.equal(checkEntries(t, kernel, new Map([[p.snapshot.pid, p.snapshot]])), 4, `${program}, libc, the loader and the vDSO point at their own rows`);
      if (i > 0) evicted++;
      t.match(loader.stats(), { rows: sharedRows + rowsOf(program), binaries: shared.length + 1, evictedBinaries: evicted, idleBinaries: 0, freeRowBlocks: rowsOf(program) === largest ? 0 : 1 });
      await p.stop();
      loader.forgetProcess(p.snapshot.pid);
      t.match(loader.stats(), { idleBinaries: 1, idleRows: rowsOf(program), processes: 0 });
    }
    t.same([...loader.stats().unplaced], [], 'no binary went without its table');
    t.equal(loader.stats().peakRows, sharedRows + largest, 'the space was full at the peak, never past it');
    t.equal(kernel.entries.size, 0, 'no process entry left');
  });
}
