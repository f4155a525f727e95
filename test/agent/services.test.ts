// One series per service: the service of a sample comes from its process's container, else its
// systemd unit, else its name; the number of series is capped with an `other` series. The last
// test records two copies of one fixture program in two cgroups (a systemd-style service and a
// docker-style container) and receives two series with those labels. About 10 s.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labelValue, serviceOf, splitByService, systemdUnit } from '../../src/agent/service.js';
import { parseName, seriesName } from '../../src/agent/interval.js';
import type { ProcessSnapshot, RawSample } from '../../src/profile/raw.js';
import { startIngestServer } from '../helpers/ingest.js';
import { requiresBpf, requiresRoot } from '../helpers/requires.js';
import { buildProgram } from '../record/fixtures.js';
import { metrics, received, recording, sleep, startAgent } from './fixtures.js';

const ID = '5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70813f4e5a6b7c8d9e0f1a2b3c4d';
const snapshot = (pid: number, cgroup?: string): ProcessSnapshot => ({ pid, comm: 'x', mappings: [], cgroup });
const sample = (pid: number, comm: string, count: number): RawSample => ({ pid, tid: pid, comm, kernelStack: [], userStack: [], count });

t.test('the service of a process', async (t) => {
  t.equal(serviceOf(snapshot(1, `/system.slice/docker-${ID}.scope`), 'nginx'), 'docker:5e6f708192a3', 'a container first');
  t.equal(serviceOf(snapshot(1, '/system.slice/nginx.service'), 'nginx'), 'nginx.service', 'a systemd unit next');
  t.equal(serviceOf(snapshot(1, '/user.slice/user-1000.slice/session-4.scope'), 'vim'), 'vim', 'a login session is no service: the process name');
  t.equal(serviceOf(snapshot(1, '/'), 'kworker/0:1'), 'kworker/0:1', 'the root cgroup: the process name');
  t.equal(serviceOf(undefined, 'gone'), 'gone', 'no snapshot: the process name');
  t.equal(systemdUnit('/user.slice/user-1000.slice/user@1000.service/app.slice/syncthing.service'), 'syncthing.service', 'the innermost unit');
  t.equal(systemdUnit('/system.slice/system-getty.slice/getty@tty1.service'), 'getty@tty1.service');
  t.equal(systemdUnit('/system.slice/foo\\x2dbar.service'), 'foo-bar.service', 'systemd escapes unescaped');
  t.equal(labelValue('we}ird,na=me {x}'), 'we_ird_na_me__x_', 'characters of the label syntax replaced');
  t.equal(labelValue('a'.repeat(300)).length, 100, 'bounded length');
});

t.test('--name labels and the series name', async (t) => {
  const { app, labels } = parseName('web{env=prod, region=eu-1}');
  t.equal(app, 'web');
  t.same([...labels], [['env', 'prod'], ['region', 'eu-1']]);
  t.equal(seriesName(app, 'nginx.service', new Map([['hostname', 'h1'], ...labels])), 'web{service_name=nginx.service,hostname=h1,env=prod,region=eu-1}');
  t.equal(seriesName('web', 's', new Map([['service_name', 'mine']])), 'web{service_name=s}', 'service_name is always the agent\'s');
  t.throws(() => parseName('web{env}'), /not key=value/);
  t.equal(parseName('').app, 'profile');
});

t.test('a cap on series: the busiest keep theirs, the rest go to `other`, counted', async (t) => {
  const samples = [sample(1, 'a', 50), sample(2, 'b', 30), sample(3, 'c', 10), sample(4, 'd', 5), sample(5, 'a', 7)];
  const processes = new Map<number, ProcessSnapshot>();
  const all = splitByService(samples, processes, 10);
  t.same(all.services, ['a', 'b', 'c', 'd'], 'under the cap: every service, busiest first');
  t.equal(all.mergedIntoOther, 0);
  const capped = splitByService(samples, processes, 3);
  t.same(capped.services, ['a', 'b', 'other']);
  t.same(capped.serviceOfSample, ['a', 'b', 'other', 'other', 'a']);
  t.equal(capped.mergedIntoOther, 2, 'two services merged into other');
});

t.test('two programs in two cgroups arrive as two series with their labels', async (t) => {
  if (!requiresRoot(t, 'to create cgroups') || !requiresBpf(t)) return;
  const hierarchy = existsSync('/sys/fs/cgroup/cgroup.procs') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/pids';
  const unit = `profile-agent-${process.pid}.service`;
  const cgroups = [join(hierarchy, 'profile-agent-test.slice'), join(hierarchy, 'profile-agent-test.slice', unit), join(hierarchy, 'docker'), join(hierarchy, 'docker', ID)];
  const made = cgroups.filter((dir) => !existsSync(dir));
  for (const dir of made) mkdirSync(dir);
  const dir = mkdtempSync(join(tmpdir(), 'profile-agent-services-'));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    for (const cgroup of made.reverse()) rmdirSync(cgroup);
  });
  const calltree = buildProgram('calltree');
  const inCgroup = (cgroup: string) =>
    spawn('sh', ['-c', 'echo $$ > "$1/cgroup.procs" && exec "$2" 12 "$3"', 'sh', cgroup, calltree, join(dir, 'tally')], { stdio: 'ignore' });
  const programs = [inCgroup(cgroups[1]!), inCgroup(cgroups[3]!)];
  const server = await startIngestServer([], {}, { maxRequests: 10_000 });
  t.teardown(() => server.close());
  await sleep(300); // both have moved and exec'd
  const agent = startAgent(['--push', server.url, '--push-interval', '2', '--metrics', '--name', 'svc{team=t1}', '--spool-dir', join(dir, 'spool'), ...programs.flatMap((p) => ['-p', String(p.pid)])]);
  await recording(agent.child.pid!);
  await sleep(5000);
  agent.child.kill('SIGTERM');
  t.equal(await agent.exited, 0, `exit code 0 (stderr: ${agent.stderr().slice(-300)})`);
  for (const p of programs) p.kill();
  await Promise.all(programs.map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.on('exit', r)))));
  const pushes = server.requests.map(received);
  const services = new Set(pushes.map((p) => p.service));
  t.same([...services].sort(), [`docker:${ID.slice(0, 12)}`, unit].sort(), 'a series for the container and one for the unit');
  for (const p of pushes) t.same([...p.comms], ['calltree'], `${p.service}: only calltree's samples`);
  t.ok(pushes.every((p) => /^svc\{service_name=[^,]+,hostname=[^,]+,team=t1\}$/.test(p.name)), 'hostname and --name labels on every series');
  const { summary } = metrics(agent.stderr());
  t.equal(pushes.reduce((sum, p) => sum + p.samples, 0), summary!.samplesCollected, 'every sample in one of the two series');
});
