/**
 * The agent's lasting symbolizer (Symbolizer.lasting): one symbolizer names interval after
 * interval while processes come and go, keeping binaries, DWARF, frame tables and kallsyms loaded.
 * Its frames must be exactly those of a symbolizer made for the interval alone. Real fixture
 * programs (PIE, non-PIE, a stripped one with a debug file by build-id, one with a debuglink)
 * run, are captured from /proc and killed between intervals; kernel addresses come from the real
 * /proc/kallsyms.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { captureProcess, closeCapturedFiles } from '../../src/host/index.js';
import { ProfileBuilder } from '../../src/profile/builder.js';
import type { Profile } from '../../src/profile/model.js';
import type { ProcessSnapshot, RawProfile, RawSample } from '../../src/profile/raw.js';
import { Symbolizer, symbolizeWithReport, type SymbolizeOptions } from '../../src/symbolize/index.js';
import { requiresTools } from '../helpers/requires.js';
import { buildFixtures, startFixture, type LiveFixture } from './elf-fixtures.js';

if (requiresTools(t, 'gcc', 'clang-14', 'objcopy', 'strip', 'readelf')) run();

/** Some code addresses of the running kernel (none when kallsyms hides them). */
function kernelAddresses(): bigint[] {
  const addresses: bigint[] = [];
  for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const [address, type] = line.split(' ');
    if ((type === 'T' || type === 't') && address && !/^0+$/.test(address)) addresses.push(BigInt(`0x${address}`));
    if (addresses.length >= 4000) break;
  }
  // Spread over the table: a few hundred functions, each at its start and inside it.
  return addresses.filter((_, i) => i % 10 === 0).flatMap((a) => [a, a + 3n]);
}

/** Stacks through every function the fixture printed: leaves at many offsets, and leaf + caller pairs. */
function stacksOf(live: LiveFixture): bigint[][] {
  const { leaf_function: leaf, middle_function: middle, main, lib_work: lib } = live.addresses as Record<string, bigint>;
  const stacks: bigint[][] = [];
  for (let k = 0n; k < 48n; k += 1n) stacks.push([leaf! + k], [lib! + k], [leaf! + k, middle! + k + 1n, main! + 9n]);
  // No mapping covers it: the `[unknown]` frame and its gap.
  stacks.push([0x10n, main! + 4n]);
  return stacks;
}

interface Running {
  readonly live: LiveFixture;
  readonly snapshot: ProcessSnapshot;
}

function intervalProfile(processes: readonly Running[], kernel: readonly bigint[]): RawProfile {
  const samples: RawSample[] = [];
  for (const { live } of processes) {
    stacksOf(live).forEach((userStack, i) => {
      const kernelStack = kernel.length > 0 ? [kernel[(i * 7) % kernel.length]!, kernel[(i * 13 + 1) % kernel.length]!] : [];
      samples.push({ pid: live.pid, tid: live.pid + i, comm: 'fixture', userStack, kernelStack, count: 1 + (i % 3) });
    });
  }
  return { samples, processes: new Map(processes.map((p) => [p.live.pid, p.snapshot])), metadata: { title: 'interval' } };
}

/** Every stack as text (thread, weight, frames with module, file and line), sorted. */
function stacksAsText(profile: Profile): string[] {
  return profile.stacks
    .map((stack) => {
      const frames = stack.frames.map((id) => {
        const f = profile.frame(id);
        return `${f.kind}:${f.name}@${f.module ?? ''}:${f.file ?? ''}:${f.line ?? 0}`;
      });
      return `${stack.thread?.tid} ${stack.weight} ${frames.join(' > ')}`;
    })
    .sort();
}

function run(): void {
  t.test('a lasting symbolizer names every interval as a fresh one does, and lets go of binaries no process maps', async (t) => {
    const fixtures = buildFixtures(['gcc']);
    const cacheDirectory = mkdtempSync(join(tmpdir(), 'lasting-cache-'));
    const started: LiveFixture[] = [];
    t.teardown(() => {
      for (const live of started) live.stop();
      closeCapturedFiles();
      fixtures.cleanup();
      rmSync(cacheDirectory, { recursive: true, force: true });
    });
    const start = async (program: string): Promise<Running> => {
      const live = await startFixture(fixtures.path(program));
      started.push(live);
      const snapshot = captureProcess(live.pid);
      if (!snapshot) throw new Error(`${program}: not captured`);
      return { live, snapshot };
    };
    const kill = async ({ live }: Running): Promise<void> => {
      const exited = new Promise((resolve) => live.child.once('exit', resolve));
      live.stop();
      await exited;
    };
    const options: Partial<SymbolizeOptions> = { debugDirectories: [fixtures.debugDir], cacheDirectory, debuginfodUrls: [] };
    const kernel = kernelAddresses();
    const lasting = Symbolizer.lasting(options);
    t.teardown(() => lasting.close());

    // `stripped` shares its build-id with gcc-pie, whose file it is a stripped copy of: the two
    // are kept apart, since whichever is loaded first names the other's frames.
    const a = await start('gcc-nopie');
    const b = await start('linked');
    // Churn: each interval's processes, some killed before it is named (their snapshots still name them).
    const intervals: (() => Promise<Running[]>)[] = [
      async () => [a, b],
      async () => {
        const c = await start('stripped');
        await kill(a);
        return [a, b, c];
      },
      async () => [b, previous[2]!, await start('stripped'), await start('gcc-nopie')],
      async () => {
        await kill(b);
        return [b, ...previous.slice(1)];
      },
      async () => {
        const [, c, c2] = previous;
        const e = await start('stripped');
        await kill(e);
        await kill(c!);
        return [c!, c2!, e];
      },
    ];
    let previous: Running[] = [];
    let heldBefore = 0;
    for (const [n, next] of intervals.entries()) {
      const processes = await next();
      previous = processes;
      const raw = intervalProfile(processes, kernel);
      heldBefore = lasting.held().binaries;
      lasting.nextRun(new ProfileBuilder(), raw.processes);
      const long = await symbolizeWithReport(raw, options, lasting);
      const fresh = await symbolizeWithReport(raw, options);
      const ours = stacksAsText(long.profile);
      const theirs = stacksAsText(fresh.profile);
      t.equal(ours.length, raw.samples.length, `interval ${n}: one stack per sample`);
      const differing = ours.filter((s, i) => s !== theirs[i]);
      t.same(differing.slice(0, 3), [], `interval ${n}: every frame as a fresh symbolizer names it (${ours.length} stacks)`);
      t.same(long.report.modules, fresh.report.modules, `interval ${n}: the same gaps reported`);
      t.ok(ours.some((s) => s.includes('leaf_function@') && s.includes('prog.c')), `interval ${n}: names with file:line`);
      if (kernel.length > 0) t.ok(ours.some((s) => s.includes('kernel:') && !s.includes('kernel:0x')), `interval ${n}: kernel frames named`);
    }
    // The last interval's processes map the stripped program and its libraries: the non-PIE
    // program and `linked` (mapped by processes of earlier intervals only) are gone.
    const mapped = new Set(previous.flatMap((p) => p.snapshot.mappings.filter((m) => m.perms[2] === 'x' && m.inode !== 0).map((m) => m.inode)));
    const held = lasting.held();
    t.ok(held.binaries <= mapped.size, `binaries held (${held.binaries}) only those mapped now (${mapped.size} files)`);
    t.ok(held.binaries < heldBefore, `binaries of exited processes evicted (${heldBefore} → ${held.binaries})`);
    t.ok(held.frameTables <= held.binaries, `frame tables held only for binaries held (${held.frameTables})`);
  });
}
