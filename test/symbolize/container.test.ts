// Cgroup paths as the runtimes write them, the cgroup of a real process (and of one moved into a
// systemd-style scope), and `profile record --container` on a process moved into a docker-named
// cgroup. Takes ~3 s.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, runCli } from '../helpers/cli.js';
import { requiresBpf, requiresRoot } from '../helpers/requires.js';
import { processCgroup } from '../../src/host/cgroups.js';
import { CONTAINER_DEFAULTS, containerFrame, containerFrameName, containerFromCgroup } from '../../src/symbolize/container.js';

// cgroup v2 alone, or the v1 pids hierarchy of a hybrid host: where systemd and docker's cgroupfs
// driver put processes.
const HIERARCHY = existsSync('/sys/fs/cgroup/cgroup.procs') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/pids';

/** Creates `path` (and missing parents) under HIERARCHY, removed again when `t` ends. */
function makeCgroup(t: { teardown(fn: () => void): void }, path: string): string {
  const created: string[] = [];
  let dir = HIERARCHY;
  for (const part of path.split('/')) {
    dir = join(dir, part);
    if (existsSync(dir)) continue;
    mkdirSync(dir);
    created.unshift(dir);
  }
  t.teardown(() => {
    for (const made of created) rmdirSync(made);
  });
  return dir;
}

const ID = '3f4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081';

t.test('runtimes and drivers', async (t) => {
  const cases: [string, string | undefined][] = [
    [`/docker/${ID}`, 'docker:3f4e5a6b7c8d'],
    [`/system.slice/docker-${ID}.scope`, 'docker:3f4e5a6b7c8d'],
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_4e5f_6a7b_8c9d_0e1f2a3b4c5d.slice/cri-containerd-${ID}.scope`, 'containerd:3f4e5a6b7c8d'],
    [`/kubepods/burstable/pod0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d/${ID}`, 'kubepods:3f4e5a6b7c8d'],
    [`/kubepods.slice/kubepods-pod1.slice/crio-${ID}.scope`, 'cri-o:3f4e5a6b7c8d'],
    [`/machine.slice/libpod-${ID}.scope`, 'podman:3f4e5a6b7c8d'],
    [`/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope/container`, 'podman:3f4e5a6b7c8d'],
    ['/lxc.payload.web01/system.slice/nginx.service', 'lxc:web01'],
    ['/lxc/db', 'lxc:db'],
    ['/machine.slice/systemd-nspawn@build\\x2dbox.service/payload/system.slice', 'nspawn:build-box'],
    ['/machine.slice/machine-test.scope', 'nspawn:test'],
    ['/user.slice/user-1000.slice/session-3.scope', undefined],
    ['/system.slice/ssh.service', undefined],
    ['/', undefined],
    ['', undefined],
    ['/docker/not-a-container-id', undefined],
  ];
  for (const [path, expected] of cases) {
    const found = containerFromCgroup(path);
    t.equal(found && containerFrameName(found), expected, path);
  }
});

t.test('the cgroup of a real process', async (t) => {
  const mine = processCgroup(process.pid);
  t.type(mine, 'string');
  t.match(mine, /^\//, 'a cgroup path');
  // A process in a systemd-style scope: the same parser on a real path. The scope is the directory
  // systemd-run --scope would create, made here so the test does not need systemd as init.
  if (!requiresRoot(t, 'to create a cgroup')) return;
  const name = `profile-test-${process.pid}.scope`;
  const scope = makeCgroup(t, `system.slice/${name}`);
  const child = spawnSync('sh', ['-c', 'echo $$ > "$1/cgroup.procs" && cat /proc/self/cgroup', 'sh', scope], { encoding: 'utf8' });
  t.equal(child.status, 0, child.stderr);
  const line = child.stdout.split('\n').find((l) => l.endsWith(`/system.slice/${name}`));
  t.ok(line, `the process is in ${name}: ${child.stdout}`);
  t.equal(containerFromCgroup(line?.split(':').pop() ?? ''), undefined, 'a plain scope is not a container');
});

t.test('the root frame', async (t) => {
  t.same(containerFrame(`/system.slice/docker-${ID}.scope`), { name: 'docker:3f4e5a6b7c8d', kind: 'process' });
  t.equal(containerFrame('/system.slice/ssh.service'), undefined);
  t.equal(containerFrame(undefined), undefined);
  t.equal(CONTAINER_DEFAULTS.containerFrame, false, 'off unless asked for');
});

t.test('profile record --container names the container of a process in a docker-style cgroup', async (t) => {
  if (!requiresBpf(t)) return;
  const cgroup = makeCgroup(t, `docker/${ID}`);
  const hot = join(ROOT, 'fixtures', 'jit', 'hot.js');
  const script = `echo $$ > ${cgroup}/cgroup.procs && exec ${process.execPath} ${hot} 500`;
  const result = await runCli(['record', '-F', '499', '--container', '--', 'sh', '-c', script], { env: { NODE_OPTIONS: '' }, timeoutMs: 120_000 });
  t.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  const inContainer = lines.filter((line) => line.startsWith('node;docker:3f4e5a6b7c8d;'));
  t.ok(inContainer.length > 0, 'node stacks under the container frame');
  t.same(lines.filter((line) => line.startsWith('node;') && !line.startsWith('node;docker:3f4e5a6b7c8d;')), [], 'every node stack');
  const plain = await runCli(['record', '-F', '499', '--', 'sh', '-c', script], { env: { NODE_OPTIONS: '' }, timeoutMs: 120_000 });
  t.notMatch(plain.stdout, /docker:/, 'no container frame unless asked for');
});
