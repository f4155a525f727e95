// Cgroup paths as the runtimes write them, the cgroup of a real process, and `profile record
// --container` on a process moved into a docker-named cgroup. Takes ~3 s.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { canUseBpf } from '../helpers/bpf.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { processCgroup } from '../../src/host/files.js';
import { CONTAINER_DEFAULTS, containerFrame, containerFrameName, containerFromCgroup } from '../../src/symbolize/container.js';

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
  // A transient systemd scope, when systemd runs here: the same parser on a real path.
  const scope = spawnSync('systemd-run', ['--scope', '--quiet', '--unit', `profile-test-${process.pid}`, 'cat', '/proc/self/cgroup'], { encoding: 'utf8' });
  if (scope.status !== 0) return t.skip('no systemd to create a scope');
  t.match(scope.stdout, new RegExp(`profile-test-${process.pid}\\.scope`));
  t.equal(containerFromCgroup(scope.stdout.trim().split(':').pop()!), undefined, 'a plain scope is not a container');
});

t.test('the root frame', async (t) => {
  t.same(containerFrame(`/system.slice/docker-${ID}.scope`), { name: 'docker:3f4e5a6b7c8d', kind: 'process' });
  t.equal(containerFrame('/system.slice/ssh.service'), undefined);
  t.equal(containerFrame(undefined), undefined);
  t.equal(CONTAINER_DEFAULTS.containerFrame, false, 'off unless asked for');
});

t.test('profile record --container names the container of a process in a docker-style cgroup', async (t) => {
  if (!canUseBpf()) {
    if (process.env.CI === 'true') throw new Error('CI: needs root with BPF');
    return t.skip('needs root with BPF (CAP_BPF, CAP_PERFMON) and bpftool');
  }
  // cgroup v2 alone, or the v1 pids hierarchy of a hybrid host: where docker's cgroupfs driver puts containers.
  const hierarchy = existsSync('/sys/fs/cgroup/cgroup.procs') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/pids';
  const cgroup = join(hierarchy, 'docker', ID);
  mkdirSync(cgroup, { recursive: true });
  t.teardown(() => {
    rmdirSync(cgroup);
    rmdirSync(join(hierarchy, 'docker'));
  });
  const hot = join(ROOT, 'test', 'fixtures', 'jit', 'hot.js');
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
