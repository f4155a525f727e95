// The push queue and its spool without a recorder: intervals of several series against the
// loopback ingest server answering errors in the middle of an interval. Each series is accepted
// once, in order; an interval half sent from the spool is rewritten without what went, and a new
// queue on the same spool (an agent restarted) sends the rest first. About 2 s.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EncodedInterval } from '../../src/agent/interval.js';
import { PushQueue } from '../../src/agent/queue.js';
import { deserializeInterval, Spool } from '../../src/agent/spool.js';
import { pushRequestOf, sendPush } from '../../src/export/push.js';
import { startIngestServer, type IngestServer } from '../helpers/ingest.js';

function interval(seq: number, series: number): EncodedInterval {
  return {
    seq,
    from: 1_700_000_000_000 + seq * 2000,
    until: 1_700_000_002_000 + seq * 2000,
    samples: series,
    series: Array.from({ length: series }, (_, i) => ({
      name: `app{service_name=s${i}}`,
      from: 1_700_000_000 + seq * 2,
      until: 1_700_000_002 + seq * 2,
      units: 'samples' as const,
      format: 'folded' as const,
      body: Buffer.from(`main;interval${seq};series${i} 1\n`),
    })),
  };
}

function queueOn(spool: Spool, server: IngestServer, memoryIntervals: number): PushQueue {
  const options = { server: server.url, retries: 0, backoffMs: 1 };
  return new PushQueue(spool, async (push, signal, retried) => void (await sendPush(pushRequestOf(push, options), options, retried, signal)), {
    memoryIntervals,
    backoffMs: 20,
    maxBackoffMs: 40,
  });
}

/** Bodies of the requests the server accepted (it answers 200 to those past its list of statuses). */
const accepted = (server: IngestServer, statuses: number[]): string[] =>
  server.requests.filter((_, i) => (statuses[i] ?? 200) === 200).map((r) => r.body.toString('utf8').trim());

t.test('errors in the middle of an interval: every series accepted once, in order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'profile-queue-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const statuses = [200, 503, 503, 200, 500, 200];
  const server = await startIngestServer([...statuses]);
  t.teardown(() => server.close());
  const queue = queueOn(new Spool(join(dir, 'spool'), 1 << 20), server, 4);
  queue.add(interval(0, 3));
  queue.add(interval(1, 2));
  await queue.close(5000);
  t.same(accepted(server, statuses), ['main;interval0;series0 1', 'main;interval0;series1 1', 'main;interval0;series2 1', 'main;interval1;series0 1', 'main;interval1;series1 1']);
  t.equal(queue.counters.pushed, 2);
  t.equal(queue.counters.retried, 3, 'three failed attempts');
  t.equal(queue.counters.dropped, 0);
});

t.test('half sent from the spool: the file keeps the rest, which a new queue sends first', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'profile-queue-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'spool');
  // The first series goes through, then the server fails until the queue is closed.
  const failing = [200, ...Array<number>(200).fill(503)];
  const down = await startIngestServer([...failing], {}, { maxRequests: 1000 });
  const queue = queueOn(new Spool(path, 1 << 20), down, 0);
  queue.add(interval(0, 3));
  queue.add(interval(1, 1));
  await new Promise((r) => setTimeout(r, 300));
  await queue.close(10);
  await down.close();
  t.equal(queue.counters.spooled, 2, 'both intervals went to the spool (no memory queue)');
  t.equal(queue.counters.pushed, 0);
  const files = readdirSync(path).sort();
  t.equal(files.length, 2);
  t.same(deserializeInterval(readFileSync(join(path, files[0]!))).series.map((s) => s.name), ['app{service_name=s1}', 'app{service_name=s2}'], 'the sent series is gone from the file');

  const up = await startIngestServer();
  t.teardown(() => up.close());
  const spool = new Spool(path, 1 << 20);
  t.equal(spool.lastSeq, 1, 'a restarted agent numbers its intervals after the spool');
  const again = queueOn(spool, up, 4);
  again.start();
  again.add(interval(2, 1));
  await again.close(5000);
  t.same(up.requests.map((r) => r.body.toString('utf8').trim()), ['main;interval0;series1 1', 'main;interval0;series2 1', 'main;interval1;series0 1', 'main;interval2;series0 1']);
  t.same(readdirSync(path), [], 'spool empty');
});

t.test('a spool over its bound drops its oldest and counts them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'profile-queue-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spool = new Spool(join(dir, 'spool'), 700);
  const dropped = [0, 1, 2, 3, 4].flatMap((seq) => spool.put(interval(seq, 2)));
  const kept = readdirSync(join(dir, 'spool')).map((f) => deserializeInterval(readFileSync(join(dir, 'spool', f))).seq);
  t.ok(spool.bytes <= 700, `${spool.bytes} bytes held`);
  t.same(dropped, [0, 1, 2, 3, 4].slice(0, dropped.length), `the oldest dropped first: ${dropped.join(', ')}`);
  t.same(kept.sort(), [0, 1, 2, 3, 4].slice(dropped.length), 'the newest kept');
});
