// Cgroup paths as the runtimes write them, and the cgroup of a real process. Takes < 1 s.
import { spawnSync } from 'node:child_process';
import t from 'tap';
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
