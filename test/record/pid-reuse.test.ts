// A pid reused during a recording: two programs with the same name and the same fixed (non-PIE)
// addresses run one after the other under one pid, which the test forces through
// /proc/sys/kernel/ns_last_pid (root). Each one's samples must be named through its own memory
// map and binary — before the BPF key carried the process start time, the first one's samples
// were named through the second one's snapshot, with the second binary's names at the first's
// addresses. About 5 s.
import t from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORD_DEFAULTS, record } from '../../src/record/index.js';
import { captureProcess, closeCapturedFiles } from '../../src/host/index.js';
import { symbolize } from '../../src/symbolize/index.js';
import { foldedLines } from '../../src/profile/folded.js';
import { buildProgram, PROGRAMS } from './fixtures.js';
import { requiresBpf } from '../helpers/requires.js';

if (requiresBpf(t)) {
  const dir = mkdtempSync(join(tmpdir(), 'profile-reuse-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const children: ChildProcess[] = [];
  t.teardown(() => children.forEach((c) => c.kill('SIGKILL')));

  // Same base name, so the same comm: only the start time tells the two processes apart.
  mkdirSync(join(dir, 'first'));
  mkdirSync(join(dir, 'second'));
  const first = join(dir, 'first', 'reuseme');
  const second = join(dir, 'second', 'reuseme');
  copyFileSync(buildProgram('calltree'), first);
  execFileSync('clang-14', ['-O1', '-fno-omit-frame-pointer', '-no-pie', '-pthread', '-o', second, join(PROGRAMS, 'spin2.c')]);

  const run = (binary: string, args: string[]): Promise<ChildProcess> =>
    new Promise((resolve) => {
      const child = spawn(binary, args, { stdio: 'ignore' });
      children.push(child);
      resolve(child);
    });
  const closed = (child: ChildProcess): Promise<void> => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.on('close', () => r())));

  /** Starts `binary` as process `pid`: the kernel hands out ns_last_pid + 1 next, unless another fork comes first. */
  async function runAsPid(binary: string, args: string[], pid: number): Promise<ChildProcess | undefined> {
    for (let attempt = 0; attempt < 50; attempt++) {
      writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
      const child = await run(binary, args);
      if (child.pid === pid) return child;
      child.kill('SIGKILL');
      await closed(child);
    }
    return undefined;
  }

  t.test('two processes under one pid are each named through their own binary', async (t) => {
    let reused: number | undefined;
    let secondRan = false;
    const workload = (async () => {
      await new Promise((r) => setTimeout(r, 300));
      const one = await run(first, ['0.6']);
      reused = one.pid;
      await closed(one);
      const two = await runAsPid(second, ['60'], reused!);
      if (two) {
        secondRan = true;
        await closed(two);
      }
    })();
    const result = await record({ ...RECORD_DEFAULTS, frequency: 999, userOnly: true, durationSeconds: 3 }, { captureProcess });
    await workload;
    t.ok(secondRan, `the second program ran as pid ${reused}, the first one's`);
    t.ok((result.raw.metadata.extra?.reusedPids as number) >= 1, `the recorder saw the pid reused (${result.raw.metadata.extra?.reusedPids})`);
    const profile = await symbolize(result.raw, {});
    closeCapturedFiles();
    const lines = foldedLines(profile).filter((l) => l.startsWith('reuseme;'));
    const frames = (l: string): string[] => l.slice(0, l.lastIndexOf(' ')).split(';');
    const ofFirst = (l: string): boolean => frames(l).includes('main') && frames(l).some((f) => ['a', 'b', 'c', 'd'].includes(f));
    const ofSecond = (l: string): boolean => frames(l).some((f) => ['work', 'middle', 'leaf'].includes(f));
    const weight = (test: (l: string) => boolean): number => lines.filter(test).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const calltree = weight(ofFirst);
    const spin = weight(ofSecond);
    const total = weight(() => true);
    t.comment(`reuseme: ${total} samples, ${calltree} in the first program's main and a-d, ${spin} in the second's work/middle/leaf`);
    // 0.6 s of one busy thread at 999 Hz: ~600 samples, of which a, b and d are nearly all.
    t.ok(calltree >= 300, `the first program's samples named as its own functions (${calltree})`);
    t.ok(spin > 0, `the second program's samples named as its own functions (${spin})`);
    const mixed = lines.filter((l) => ofFirst(l) && ofSecond(l));
    t.same(mixed, [], 'no stack mixes the two programs');
    // The rest: the dynamic loader at start-up, frames a frame-pointer walk could not follow.
    t.ok(calltree + spin >= 0.9 * total, `nearly every sample of either is named as its own code (${calltree + spin} of ${total})`);
  });
}
