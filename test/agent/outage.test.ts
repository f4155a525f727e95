// The agent while its server is away: intervals recorded during an outage arrive once it is
// back, in order, none twice; a spool smaller than the outage drops its oldest intervals and
// says how many; an agent killed with SIGKILL leaves its spool to the next one, which sends it
// first. Recording only the busy fixture (-p), 2 s intervals. About 45 s.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserializeInterval } from '../../src/agent/spool.js';
import { startIngestServer, type IngestRequest } from '../helpers/ingest.js';
import { requiresBpf } from '../helpers/requires.js';
import { buildProgram } from '../record/fixtures.js';
import { intervalsOf, metrics, received, recording, sleep, startAgent } from './fixtures.js';

/** A port nothing listens on (yet). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

if (requiresBpf(t)) {
  const dir = mkdtempSync(join(tmpdir(), 'profile-agent-outage-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const calltree = buildProgram('calltree');
  const busy = spawn(calltree, ['120', join(dir, 'tally')], { stdio: 'ignore' });
  t.teardown(() => busy.kill());

  t.test('server stopped in the middle: everything arrives once it is back, in order, none twice', async (t) => {
    const port = await freePort();
    const requests: IngestRequest[] = [];
    let server = await startIngestServer([], {}, { port, requests, maxRequests: 100_000 });
    const agent = startAgent(['--push', server.url, '--push-interval', '2', '--metrics', '-p', String(busy.pid), '--spool-dir', join(dir, 'spool-a')]);
    await recording(agent.child.pid!);
    await sleep(4000);
    await server.close();
    const downAt = Date.now();
    await sleep(8000);
    server = await startIngestServer([], {}, { port, requests, maxRequests: 100_000 });
    t.teardown(() => server.close());
    await sleep(9000);
    agent.child.kill('SIGTERM');
    t.equal(await agent.exited, 0, 'exit code 0');
    const { intervals, summary } = metrics(agent.stderr());
    const pushes = requests.map(received);
    const during = intervals.filter((i) => Date.parse(i.until as string) > downAt && Date.parse(i.from as string) < downAt + 8000);
    t.ok(during.length >= 3, `${during.length} intervals recorded while the server was away`);
    t.ok(summary!.retried > 0, `${summary!.retried} retries counted`);
    t.equal(pushes.length, intervals.length, `${pushes.length} pushes for ${intervals.length} intervals (one series)`);
    const froms = pushes.map((p) => p.from);
    t.same(froms, [...froms].sort((a, b) => a - b), 'received in the order recorded');
    t.equal(new Set(froms).size, froms.length, 'none twice');
    const pairs = intervalsOf(pushes);
    for (let i = 1; i < pairs.length; i++) t.equal(pairs[i]![0], pairs[i - 1]![1], `no gap before interval ${i}`);
    t.equal(pushes.reduce((sum, p) => sum + p.samples, 0), summary!.samplesCollected, 'every collected sample arrived');
    t.equal(summary!.dropped, 0, 'none dropped');
  });

  t.test('a spool smaller than the outage drops its oldest; after SIGKILL a new agent sends the spool first', async (t) => {
    const port = await freePort();
    const spool = join(dir, 'spool-b');
    // Nothing listens: every interval goes to the spool (no memory queue), which holds ~2 of them.
    const first = startAgent(['--push', `http://127.0.0.1:${port}`, '--push-interval', '2', '--metrics', '-p', String(busy.pid), '--spool-dir', spool, '--push-queue', '0', '--spool-size', '4K']);
    await recording(first.child.pid!);
    await sleep(13_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const { intervals } = metrics(first.stderr());
    const lastLine = intervals[intervals.length - 1]!;
    const files = readdirSync(spool).filter((f) => f.endsWith('.interval')).sort();
    const held = files.map((f) => deserializeInterval(readFileSync(join(spool, f))));
    t.ok(intervals.length >= 5, `${intervals.length} intervals before SIGKILL`);
    const sizes = intervals.map((i) => i.bytes as number);
    t.ok((lastLine.dropped as number) > 0, `${lastLine.dropped} intervals dropped, counted (interval sizes ${sizes.join(', ')} bytes)`);
    t.ok(held.length >= 1, `${held.length} intervals kept`);
    t.ok(files.reduce((sum, f) => sum + statSync(join(spool, f)).size, 0) <= 4096, 'within the 4 KiB bound');
    t.equal(lastLine.spooled, (lastLine.dropped as number) + held.length, 'spooled = dropped + what the spool holds');
    const seqs = intervals.map((i) => i.seq as number);
    t.same(held.map((h) => h.seq), seqs.slice(seqs.length - held.length), 'the newest intervals are the ones kept');

    const server = await startIngestServer([], {}, { port, maxRequests: 100_000 });
    t.teardown(() => server.close());
    const second = startAgent(['--push', server.url, '--push-interval', '2', '--metrics', '-p', String(busy.pid), '--spool-dir', spool]);
    await recording(second.child.pid!);
    await sleep(5000);
    second.child.kill('SIGTERM');
    t.equal(await second.exited, 0, 'exit code 0');
    t.match(second.stderr(), new RegExp(`${held.length} intervals left in .* by an earlier run are sent first`), 'says it found the spool');
    const pushes = server.requests.map(received);
    const spooledFroms = held.map((h) => Math.round(h.from / 1000));
    t.same(pushes.slice(0, held.length).map((p) => p.from), spooledFroms, 'the spool arrives first, oldest first');
    t.same(
      pushes.slice(0, held.length).map((p) => p.samples),
      held.map((h) => h.samples),
      'with the samples it held',
    );
    const later = pushes.slice(held.length).map((p) => p.from);
    t.ok(later.length > 0 && later.every((from) => from >= spooledFroms[spooledFroms.length - 1]!), 'then the new run\'s intervals');
    t.same(readdirSync(spool).filter((f) => f.endsWith('.interval')), [], 'the spool is empty');
    const { summary } = metrics(second.stderr());
    t.equal(summary!.pushed, held.length + metrics(second.stderr()).intervals.length, 'summary counts both');
  });
}
