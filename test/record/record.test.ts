// Real BPF recordings through the library (src/record), checked on raw addresses of fixture
// programs built without PIE. About 15 s.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORD_DEFAULTS, record, type RecordOptions } from '../../src/record/index.js';
import { COUNTERS } from '../../src/record/abi.js';
import { bpfMark, leakedSince } from '../helpers/bpf.js';
import { buildProgram, chain, functionSymbols } from './fixtures.js';
import { requiresBpf } from '../helpers/requires.js';

if (requiresBpf(t)) {
  const dir = mkdtempSync(join(tmpdir(), 'profile-record-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const calltree = buildProgram('calltree');
  const symbols = functionSymbols(calltree);
  const mark = bpfMark();
  const options = (o: Partial<RecordOptions>): RecordOptions => ({ ...RECORD_DEFAULTS, ...o });
  const children: ChildProcess[] = [];
  t.teardown(() => children.forEach((c) => c.kill('SIGKILL')));
  const start = (binary: string, seconds: number): ChildProcess => {
    const child = spawn(binary, [String(seconds)], { stdio: 'ignore' });
    children.push(child);
    return child;
  };

  t.test('-- COMMAND: call-tree shares within 3 points of the program tally, exact chains, exit code', async (t) => {
    const tally = join(dir, 'tally');
    const result = await record(options({ frequency: 999, userOnly: true, command: [calltree, '3', tally, '7'] }));
    t.equal(result.stoppedBy, 'command-exit');
    t.equal(result.commandExitCode, 7);
    const own = Object.fromEntries(readFileSync(tally, 'utf8').trim().split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]));
    const ownTotal = own.a + own.b + own.d;
    const leafs: Record<string, number> = { a: 0, b: 0, d: 0 };
    let total = 0;
    let exact = 0;
    t.ok(result.raw.samples.every((s) => s.kernelStack.length === 0), 'user-only has no kernel frames');
    for (const sample of result.raw.samples) {
      total += sample.count;
      const names = chain(sample.userStack, symbols).join(';');
      if (names === 'main;a' || names === 'main;b' || names === 'main;c;d') {
        exact += sample.count;
        leafs[names.slice(-1)]! += sample.count;
      }
    }
    t.ok(total > 2000, `enough samples (${total})`);
    t.ok(exact / total >= 0.95, `exact caller chain for ${((100 * exact) / total).toFixed(1)} % of samples`);
    const counted = leafs.a! + leafs.b! + leafs.d!;
    for (const k of ['a', 'b', 'd'] as const) {
      const measured = (100 * leafs[k]!) / counted;
      const expected = (100 * own[k]) / ownTotal;
      t.ok(Math.abs(measured - expected) <= 3, `${k}: ${measured.toFixed(1)} % sampled vs ${expected.toFixed(1)} % measured by the program`);
    }
    t.ok(result.raw.samples.every((s) => s.pid === result.raw.samples[0]!.pid || s.comm === 'sh' || s.comm === 'calltree'), 'only the command');
  });

  t.test('-p excludes other processes', async (t) => {
    const other = join(dir, 'othertree');
    copyFileSync(calltree, other);
    const target = start(calltree, 3);
    const bystander = start(other, 3);
    const result = await record(options({ frequency: 499, durationSeconds: 1.5, pids: [target.pid!] }));
    const pids = new Set(result.raw.samples.map((s) => s.pid));
    t.same([...pids], [target.pid], 'only the chosen process');
    t.ok(result.counters.COLLECTED > 50, `samples of the target (${result.counters.COLLECTED})`);
    t.ok(result.counters.FILTERED > 50, `the bystander ${bystander.pid} was filtered (${result.counters.FILTERED})`);
  });

  t.test('--kernel-only and --user-only', async (t) => {
    const dd = spawn('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=64k', 'count=100000000'], { stdio: 'ignore' });
    children.push(dd);
    const kernel = await record(options({ frequency: 499, durationSeconds: 1, kernelOnly: true }));
    const user = await record(options({ frequency: 499, durationSeconds: 1, userOnly: true }));
    dd.kill();
    t.ok(kernel.raw.samples.every((s) => s.userStack.length === 0), 'kernel-only: no user frames');
    t.ok(kernel.raw.samples.some((s) => s.kernelStack.length > 0 && s.kernelStack.every((a) => a >= 0xffff800000000000n)), 'kernel-only: kernel addresses');
    t.ok(user.raw.samples.every((s) => s.kernelStack.length === 0), 'user-only: no kernel frames');
    t.ok(user.raw.samples.some((s) => s.pid === dd.pid && s.userStack.length > 0), 'user-only: user stacks of dd');
  });

  t.test('a tiny --stack-storage-size: drops are counted and add up to the probe firings', async (t) => {
    const busy = start(calltree, 3);
    const result = await record(options({ frequency: 999, durationSeconds: 1, stackStorageSize: 4, includeIdle: true }));
    busy.kill();
    const c = result.counters;
    const drops = COUNTERS.filter((n) => n.startsWith('DROP_')).reduce((sum, n) => sum + c[n], 0);
    t.ok(drops > 0, `drops counted (${drops})`);
    t.equal(c.FILTERED, 0, 'nothing filtered with --include-idle and no pid filter');
    t.equal(c.COLLECTED + drops + c.FILTERED, c.PROBE_FIRINGS, `${c.COLLECTED} collected + ${drops} dropped = ${c.PROBE_FIRINGS} firings`);
    t.equal(result.raw.samples.reduce((sum, s) => sum + s.count, 0), c.COLLECTED, 'the counts hash holds every collected sample');
    const dropped = Object.values(result.raw.metadata.dropped ?? {}).reduce((a, b) => a + b, 0);
    t.equal(dropped, drops, 'metadata reports every drop by reason');
  });

  t.test('samples harvested while recording: every collected sample arrives exactly once', async (t) => {
    // A small stack map fills within a fraction of a second, so it is harvested many times; each
    // harvest swaps sets under the running program, which must neither lose nor repeat a sample.
    const busy = [start(calltree, 3), start(calltree, 3)];
    const result = await record(options({ frequency: 999, durationSeconds: 2, stackStorageSize: 64, includeIdle: true }));
    busy.forEach((b) => b.kill());
    const c = result.counters;
    const harvests = result.raw.metadata.extra?.harvests as number;
    t.ok(harvests >= 3, `${harvests} harvests`);
    const drops = COUNTERS.filter((n) => n.startsWith('DROP_')).reduce((sum, n) => sum + c[n], 0);
    t.equal(c.COLLECTED + drops + c.FILTERED, c.PROBE_FIRINGS, `${c.COLLECTED} collected + ${drops} dropped + ${c.FILTERED} filtered = ${c.PROBE_FIRINGS} firings`);
    t.equal(result.raw.samples.reduce((sum, s) => sum + s.count, 0), c.COLLECTED, 'the harvested counts add up to the collected samples');
    const keys = new Set(result.raw.samples.map((s) => `${s.pid} ${s.tid} ${s.comm} ${s.kernelStack.join(',')} ${s.userStack.join(',')}`));
    t.equal(keys.size, result.raw.samples.length, 'one sample per (thread, comm, stacks): harvests are merged');
  });

  t.test('a 200 ms process in a system-wide run is captured while alive', async (t) => {
    const captured = new Map<number, string>();
    let short: ChildProcess | undefined;
    setTimeout(() => (short = start(calltree, 0.2)), 500);
    const result = await record(options({ durationSeconds: 2 }), {
      captureProcess: (pid) => {
        try {
          captured.set(pid, readFileSync(`/proc/${pid}/maps`, 'utf8'));
        } catch {
          captured.set(pid, '');
        }
        return undefined;
      },
    });
    t.ok(short?.pid, 'started');
    t.ok(result.raw.samples.some((s) => s.pid === short!.pid), 'sampled');
    t.match(captured.get(short!.pid!) ?? '', /calltree/, 'its maps were read while it ran');
  });

  t.test('nothing BPF is left behind', async (t) => {
    t.same(await leakedSince(mark), [], 'no program, link or map of ours survives');
  });
}
