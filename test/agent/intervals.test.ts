// The agent (`record --push URL --push-interval 4`) against the loopback ingest server for ~20 s,
// system-wide with a busy fixture: one push per service per interval, contiguous from/until, the
// samples received add up exactly to what the recorder collected, and SIGTERM in the middle of an
// interval still sends that partial interval and exits 0. About 30 s.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIngestServer } from '../helpers/ingest.js';
import { requiresBpf } from '../helpers/requires.js';
import { buildProgram } from '../record/fixtures.js';
import { intervalsOf, metrics, received, recording, sleep, startAgent } from './fixtures.js';

if (requiresBpf(t)) {
  t.test('every interval pushed per service, contiguous, every collected sample once', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'profile-agent-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const server = await startIngestServer([], {}, { maxRequests: 100_000 });
    t.teardown(() => server.close());
    const calltree = buildProgram('calltree');
    const busy = spawn(calltree, ['40', join(dir, 'tally')], { stdio: 'ignore' });
    t.teardown(() => busy.kill());
    const spool = join(dir, 'spool');
    const agent = startAgent(['--push', server.url, '--push-interval', '4', '--metrics', '--spool-dir', spool, '--name', 'agenttest{env=ci}']);
    await recording(agent.child.pid!);
    const began = Date.now();
    // 20 s and a half: the SIGTERM lands in the middle of the sixth interval.
    await sleep(20_500);
    agent.child.kill('SIGTERM');
    const code = await agent.exited;
    const seconds = (Date.now() - began) / 1000;
    t.equal(code, 0, `exit code 0 after SIGTERM (stderr: ${agent.stderr().slice(-500)})`);

    const { intervals, summary } = metrics(agent.stderr());
    t.ok(summary, 'a summary line');
    const expected = Math.ceil(seconds / 4);
    t.ok(Math.abs(intervals.length - expected) <= 1, `${intervals.length} intervals in ${seconds.toFixed(1)} s (${expected} ± 1)`);
    for (let i = 1; i < intervals.length; i++) t.equal(intervals[i]!.from, intervals[i - 1]!.until, `interval ${i} starts where ${i - 1} ended`);
    const last = intervals[intervals.length - 1]!;
    const lastMs = Date.parse(last.until as string) - Date.parse(last.from as string);
    t.ok(lastMs < 3900, `the last interval is the partial one SIGTERM cut (${lastMs} ms)`);

    const pushes = server.requests.map(received);
    t.ok(pushes.length >= intervals.length, `${pushes.length} profiles received`);
    t.ok(pushes.every((p) => /^agenttest\{service_name=[A-Za-z0-9._\-:/@]+,hostname=[^,{}]+,env=ci\}$/.test(p.name)), `series names carry service, hostname and --name's labels: ${pushes[0]?.name}`);
    const pairs = intervalsOf(pushes);
    t.equal(pairs.length, intervals.length, 'every interval arrived');
    for (let i = 1; i < pairs.length; i++) t.equal(pairs[i]![0], pairs[i - 1]![1], `pushed interval ${i}: from = the previous until`);
    t.equal(pairs[pairs.length - 1]![0], Math.round(Date.parse(last.from as string) / 1000), 'the partial interval arrived');

    const mine = pushes.filter((p) => p.service === 'calltree');
    t.ok(Math.abs(mine.length - intervals.length) <= 1, `the busy fixture's series: ${mine.length} pushes for ${intervals.length} intervals`);
    t.equal(new Set(mine.map((p) => p.from)).size, mine.length, 'one push per interval for a service');
    const servicesPerInterval = new Map<number, string[]>();
    for (const p of pushes) servicesPerInterval.set(p.from, [...(servicesPerInterval.get(p.from) ?? []), p.service]);
    for (const [from, services] of servicesPerInterval) t.equal(new Set(services).size, services.length, `no service twice in the interval from ${from}`);

    const total = pushes.reduce((sum, p) => sum + p.samples, 0);
    t.ok(summary!.samplesCollected > 0, `${summary!.samplesCollected} samples collected`);
    t.equal(total, summary!.samplesCollected, 'the samples received add up to the recorder\'s COLLECTED count');
    t.equal(intervals.reduce((sum, i) => sum + (i.samples as number), 0), summary!.samplesCollected, 'and so do the intervals\' own counts');
    t.equal(summary!.pushed, intervals.length, 'summary: every interval pushed');
    t.equal(summary!.dropped, 0, 'none dropped');
    t.same(readdirSync(spool), [], 'nothing left in the spool');
  });
}
