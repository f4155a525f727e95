// The cgroup of a process read once per cgroup key (src/host/cgroups.ts), and the identity the BPF
// side announces with a new process (bpf/profile.bpf.c announce: uid, PID-namespace depth, cgroup
// key). Real cgroups made for the test (the unified hierarchy, or the v1 pids hierarchy of a
// hybrid host), real processes, and a 3 s system-wide recording. About 6 s.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupKeyOfText, cgroupOf, cgroupOfText, cgroupReads, processCgroup } from '../../src/host/cgroups.js';
import { captureProcess, closeCapturedFiles } from '../../src/host/index.js';
import type { ProcessAnnouncement, ProcessSnapshot } from '../../src/profile/raw.js';
import { RECORD_DEFAULTS, record } from '../../src/record/index.js';
import { requiresBpf, requiresRoot, requiresTools } from '../helpers/requires.js';
import { buildProgram } from './fixtures.js';

const HIERARCHY = existsSync('/sys/fs/cgroup/cgroup.procs') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/pids';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Cgroups under HIERARCHY and processes started in them, for one test: when it ends, the processes
 * are killed and reaped, then the cgroups removed.
 */
function cgroups(t: { teardown(fn: () => Promise<void>): void }) {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    const exited = children.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r))));
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(exited);
    for (const dir of dirs.reverse()) {
      // A killed process leaves its cgroup a moment after its parent saw it exit.
      for (let i = 0; i < 50 && existsSync(dir); i++) {
        try {
          rmdirSync(dir);
        } catch {
          await sleep(20);
        }
      }
    }
  });
  return {
    make(name: string): { readonly dir: string; readonly path: string } {
      const dir = join(HIERARCHY, name);
      mkdirSync(dir);
      dirs.push(dir);
      return { dir, path: `/${name}` };
    },
    /** Starts `argv` inside cgroup `dir` (the shell moves itself, then execs). */
    start(dir: string, argv: string[]): ChildProcess {
      const child = spawn('sh', ['-c', 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', 'sh', dir, ...argv], { stdio: 'ignore' });
      children.push(child);
      return child;
    },
  };
}

/** Waits until `pid` runs `comm` (after the shell's exec). */
async function execd(pid: number, comm: string): Promise<void> {
  for (let i = 0; i < 200 && !readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith(comm); i++) await sleep(10);
}

const cgroupText = (pid: number): string => readFileSync(`/proc/${pid}/cgroup`, 'latin1');

t.test('the label path of /proc/PID/cgroup', async (t) => {
  t.equal(cgroupOfText('0::/system.slice/nginx.service\n'), '/system.slice/nginx.service', 'v2');
  t.equal(cgroupOfText('9:name=systemd:/\n8:pids:/docker/abc\n4:memory:/other\n0::/\n'), '/docker/abc', 'hybrid: the pids hierarchy first');
  t.equal(cgroupOfText('9:name=systemd:/\n8:pids:/\n4:memory:/process_api/x\n0::/\n'), '/process_api/x', 'hybrid: else the first v1 path that is not the root');
  t.equal(cgroupOfText('9:name=systemd:/\n0::/\n'), '/', 'all at the root');
  t.equal(processCgroup(process.pid), cgroupOfText(cgroupText(process.pid)), 'a real process');
});

t.test('one read per cgroup key, kept only when the key matches the cgroup directories', async (t) => {
  if (!requiresRoot(t, 'to create cgroups')) return;
  const made = cgroups(t);
  const a = made.make(`profile-key-a-${process.pid}`);
  const b = made.make(`profile-key-b-${process.pid}`);
  const c = made.make(`profile-key-c-${process.pid}`);
  const [a1, a2, b1, c1, c2] = [a, a, b, c, c].map((g) => made.start(g.dir, ['/bin/sleep', '30']));
  for (const child of [a1, a2, b1, c1, c2]) await execd(child!.pid!, 'sleep');
  const keyA = cgroupKeyOfText(cgroupText(a1!.pid!));
  const keyB = cgroupKeyOfText(cgroupText(b1!.pid!));
  const keyC = cgroupKeyOfText(cgroupText(c1!.pid!));
  t.ok(keyA !== undefined && keyB !== undefined && keyC !== undefined, 'keys of real cgroups');
  t.equal(cgroupKeyOfText(cgroupText(a2!.pid!)), keyA, 'the same cgroups, the same key');
  t.not(keyA, keyB, 'other cgroups, another key');

  const reads = cgroupReads.read;
  t.equal(cgroupOf(a1!.pid!, keyA), a.path, 'read');
  t.equal(cgroupOf(a2!.pid!, keyA), a.path, 'known by its key');
  t.equal(cgroupReads.read, reads + 1, 'one read for two processes');
  t.equal(cgroupOf(b1!.pid!, keyB), b.path, 'another key: read');
  t.equal(cgroupReads.read, reads + 2);
  t.equal(cgroupOf(b1!.pid!, 0n), b.path, 'no key (unknown): read');
  t.equal(cgroupReads.read, reads + 3);

  // c1 announced in c, moved to a before its capture: its read says a, which is not c's key's answer.
  writeFileSync(join(a.dir, 'cgroup.procs'), String(c1!.pid));
  t.equal(cgroupOf(c1!.pid!, keyC), a.path, 'moved since the announcement: where it is now');
  t.equal(cgroupOf(c2!.pid!, keyC), c.path, 'the key was not taken for c: read again');
  t.equal(cgroupReads.read, reads + 5);
  t.equal(cgroupOf(c2!.pid!, keyC), c.path, 'now known');
  t.equal(cgroupReads.read, reads + 5);
});

t.test('a new process is announced with its uid, PID-namespace depth and cgroup key', async (t) => {
  if (!requiresRoot(t, 'to create cgroups') || !requiresBpf(t) || !requiresTools(t, 'unshare', 'setpriv')) return;
  const dir = mkdtempSync(join(tmpdir(), 'profile-announce-'));
  chmodSync(dir, 0o777);
  t.teardown(() => {
    closeCapturedFiles();
    rmSync(dir, { recursive: true, force: true });
  });
  const made = cgroups(t);
  const group = made.make(`profile-announce-${process.pid}`);
  const calltree = buildProgram('calltree');
  const busy = (name: string): string[] => [calltree, '4', join(dir, name)];
  const inCgroup = made.start(group.dir, busy('a'));
  const nobody = made.start(group.dir, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...busy('b')]);
  made.start(group.dir, ['unshare', '--pid', '--fork', '--kill-child', ...busy('c')]);
  await Promise.all([inCgroup, nobody].map((c) => execd(c.pid!, 'calltree')));

  const seen = new Map<number, { announced?: ProcessAnnouncement; key?: bigint; snapshot?: ProcessSnapshot }>();
  const result = await record(
    { ...RECORD_DEFAULTS, frequency: 199, durationSeconds: 3 },
    {
      captureProcess: (pid, comm, announced) => {
        const snapshot = captureProcess(pid, comm, announced);
        if (comm === 'calltree' && announced?.uid !== undefined) {
          let key: bigint | undefined;
          try {
            key = cgroupKeyOfText(cgroupText(pid));
          } catch {
            // gone
          }
          seen.set(pid, { announced, key, snapshot });
        }
        return snapshot;
      },
    },
  );
  t.ok(result.raw.processes.size > 0, 'processes captured');
  const inner = [...seen.keys()].find((pid) => pid !== inCgroup.pid && pid !== nobody.pid);
  for (const [name, pid, uid, level] of [
    ['in the cgroup', inCgroup.pid, 0, 0],
    ['as nobody', nobody.pid, 65534, 0],
    ['in a PID namespace', inner, 0, 1],
  ] as const) {
    const got = seen.get(pid!);
    t.ok(got?.snapshot, `${name}: announced and captured`);
    t.equal(got?.announced?.uid, uid, `${name}: uid ${uid}`);
    t.equal(got?.announced?.pidNsLevel, level, `${name}: PID namespace depth ${level}`);
    t.not(got?.announced?.cgroupKey, 0n, `${name}: a cgroup key`);
    t.equal(got?.announced?.cgroupKey, got?.key, `${name}: the key user space computes from the cgroup directories`);
    t.equal(got?.snapshot?.cgroup, group.path, `${name}: its cgroup`);
    t.equal(got?.snapshot?.uid, uid, `${name}: the snapshot's uid`);
  }
  t.equal(seen.get(inner!)?.snapshot?.nsPids?.length, 2, 'the namespaced process: its NSpid list from status');
  t.equal(seen.get(inner!)?.snapshot?.nsPids?.at(-1), 1, 'pid 1 in its namespace');
  t.equal(seen.get(inCgroup.pid!)?.announced?.cgroupKey, seen.get(nobody.pid!)?.announced?.cgroupKey, 'one cgroup, one key');
});
