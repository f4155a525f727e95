// `profile record` through the real CLI: stop at the command's exit with its exit code, SIGINT and
// SIGTERM still write a complete profile, a signal storm does not fail the BPF load, no
// privileges → one line, nothing BPF left behind.
// About 12 s.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, cliEnv, cliSpawnArgs, runCli } from '../helpers/cli.js';
import { bpfMark, kernelFds, leakedSince } from '../helpers/bpf.js';
import { buildProgram } from './fixtures.js';
import { requiresBpf } from '../helpers/requires.js';

if (requiresBpf(t)) {
  const dir = mkdtempSync(join(tmpdir(), 'profile-record-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const calltree = buildProgram('calltree');
  const mark = bpfMark();
  const folded = /^[^\n]+ \d+$/;
  /** Resolves once `pid` is recording (it holds perf events), not while node is still starting. */
  const recording = async (pid: number): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!kernelFds(pid).some((fd) => fd.includes('perf_event')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  };

  t.test('-- COMMAND: stops when it exits and reports its exit code', async (t) => {
    const began = Date.now();
    const result = await runCli(['record', '-F', '199', '--duration', '600', '--', calltree, '0.5', join(dir, 'tally'), '5'], { timeoutMs: 200_000 });
    const seconds = (Date.now() - began) / 1000;
    t.equal(result.code, 5, 'record exits with the command\'s exit code');
    t.ok(seconds < 200, `stopped at the command's exit (${seconds.toFixed(1)} s, not 600)`);
    t.match(result.stderr, /^profile: \d+ samples, \d+ processes, \d+ dropped.*command exited with 5$/m, 'summary line');
    const lines = result.stdout.trim().split('\n');
    t.ok(lines.length > 0 && lines.every((l) => folded.test(l)), 'folded stacks on stdout');
    t.ok(lines.some((l) => l.startsWith('calltree;')), 'the command\'s comm is the root frame');
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    t.test(`${signal} ends the recording and still writes the output`, async (t) => {
      const out = join(dir, `${signal}.folded`);
      const busy = spawn(calltree, ['4'], { stdio: 'ignore' });
      const child = spawn(...cliSpawnArgs(['record', '-F', '499', '-o', out]), { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      await recording(child.pid!);
      await new Promise((r) => setTimeout(r, 1000));
      child.kill(signal);
      const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
      busy.kill();
      t.equal(code, 0, `exit code 0 (stderr: ${stderr.slice(0, 300)})`);
      t.ok(existsSync(out), 'output written');
      const text = readFileSync(out, 'utf8');
      t.ok(text.endsWith('\n') && text.trim().split('\n').every((l) => folded.test(l)), 'complete folded file');
      t.ok(text.split('\n').some((l) => l.startsWith('calltree;')), 'with the busy process');
      t.match(stderr, /^profile: \d+ samples/m, 'summary line');
      t.notOk(existsSync(`/proc/${child.pid}`), 'the recorder has exited');
    });
  }

  t.test('a 200 ms process in a system-wide run shows named user and kernel frames', async (t) => {
    const out = join(dir, 'short.folded');
    const child = spawn(...cliSpawnArgs(['record', '-F', '199', '-o', out]), { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await recording(child.pid!);
    const short = spawn(calltree, ['0.2'], { stdio: 'ignore' });
    // calltree spins in user mode; a quiet machine may give no sample in the kernel at all.
    // dd copying one byte per syscall spends most of its time there.
    const syscalls = spawn('timeout', ['0.4', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1'], { stdio: 'ignore' });
    await Promise.all([short, syscalls].map((p) => new Promise((r) => p.on('close', r))));
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    t.equal(code, 0, stderr);
    const lines = readFileSync(out, 'utf8').split('\n');
    const mine = lines.filter((l) => l.startsWith('calltree;'));
    t.ok(mine.some((l) => /;main;(a|b|c;d) \d+$/.test(l)), `its own functions by name: ${mine.slice(0, 3).join(' | ')}`);
    t.ok(lines.some((l) => /;(entry_SYSCALL_64\w*|asm_sysvec_\w+|do_syscall_64);/.test(l)), 'kernel frames by name');
  });

  t.test('without privileges: one line saying what to do, exit 1', async (t) => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      // `env -i`: tap hooks injected into child environments would try to write as nobody.
      const child = spawn('env', ['-i', `PATH=${process.env.PATH}`, 'HOME=/nonexistent', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, BIN, 'record', '--duration', '1'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    t.equal(result.code, 1);
    t.match(result.stderr, /^profile: recording needs root or CAP_BPF and CAP_PERFMON: run it with sudo/);
    t.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`);
  });

  t.test('a periodic signal during the BPF load does not fail it (node --cpu-prof: SIGPROF every 0.5 ms)', async (t) => {
    const out = join(dir, 'cpu-prof.folded');
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '500', '--cpu-prof-dir', join(dir, 'cpu-prof'), BIN, 'record', '--unwind', 'tables', '--duration', '1', '-o', out], {
        cwd: ROOT,
        env: cliEnv(),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    t.equal(result.code, 0, `recorded (stderr: ${result.stderr.slice(0, 300)})`);
    t.match(result.stderr, /^profile: \d+ samples/m, 'summary line');
    t.ok(readFileSync(out, 'utf8').trim().split('\n').every((l) => folded.test(l)), 'complete folded file');
  });

  t.test('nothing BPF is left behind', async (t) => {
    t.same(await leakedSince(mark), [], 'no program, link or map of ours survives');
  });
}
