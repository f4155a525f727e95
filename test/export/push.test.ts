import t from 'tap';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildPushRequest, pushProfile } from '../../src/export/push.js';
import { loadProfile, readPprof } from '../../src/input/index.js';
import { ProfileBuilder } from '../../src/profile/builder.js';
import { foldedLines } from '../../src/profile/folded.js';
import { startIngestServer } from '../helpers/ingest.js';

function recorded() {
  const b = new ProfileBuilder();
  b.addFrames([{ name: 'main', kind: 'user' }, { name: 'work', kind: 'user' }], 30, { comm: 'app', pid: 7 });
  b.addFrames([{ name: 'main', kind: 'user' }, { name: 'ksys_read', kind: 'kernel' }], 12, { comm: 'app', pid: 7 });
  return b.build({ frequencyHz: 99, durationSeconds: 10, startTime: '2024-05-01T10:00:00.000Z' });
}

t.test('pprof push: query parameters, headers, body decodes to the same stacks', async (t) => {
  const server = await startIngestServer();
  t.teardown(() => server.close());
  const profile = recorded();
  const result = await pushProfile(profile, { server: server.url, name: 'checkout{env=prod}', token: 's3cret', tenant: 'team-a' });
  t.equal(result.attempts, 1);
  t.equal(server.requests.length, 1);
  const req = server.requests[0]!;
  t.equal(req.method, 'POST');
  t.equal(req.path, '/ingest');
  t.same(Object.fromEntries(req.query), {
    name: 'checkout{env=prod}', from: '1714557600', until: '1714557610', format: 'pprof', spyName: 'ebpfspy', sampleRate: '99', units: 'samples', aggregationType: 'sum',
  });
  t.equal(req.headers.authorization, 'Bearer s3cret');
  t.equal(req.headers['x-scope-orgid'], 'team-a');
  t.match(req.headers['content-type'], /^multipart\/form-data; boundary=/);
  t.ok(req.profileFile, 'multipart form has a `profile` file');
  const back = readPprof(gunzipSync(req.profileFile!), 'pushed');
  t.same(foldedLines(back, { processFrame: 'comm-pid', annotateKernel: true }), foldedLines(profile, { processFrame: 'comm-pid', annotateKernel: true }));
});

t.test('folded push of a real fixture; basic auth from the URL; server path kept', async (t) => {
  const server = await startIngestServer();
  t.teardown(() => server.close());
  const profile = await loadProfile(join(import.meta.dirname, '../../fixtures/diff/after.folded'));
  const base = server.url.replace('http://', 'http://user%40corp:p%3Ass@');
  await pushProfile(profile, { server: base, format: 'folded' });
  const req = server.requests[0]!;
  t.equal(req.query.get('format'), 'folded');
  t.equal(req.query.get('sampleRate'), null, 'no rate claimed when the source did not know it');
  t.equal(req.headers.authorization, `Basic ${Buffer.from('user@corp:p:ss').toString('base64')}`);
  t.equal(req.body.toString('utf8'), foldedLines(profile).join('\n') + '\n');
  t.match(req.headers['content-type'], /^text\/plain/);
  const until = Number(req.query.get('until'));
  t.ok(Math.abs(until - Date.now() / 1000) < 60 && Number(req.query.get('from')) < until, 'time range ends now when the profile has no start time');
});

t.test('retries 5xx and 429 with back-off, then succeeds', async (t) => {
  const server = await startIngestServer([503, 429, 500], { 'Retry-After': '0' });
  t.teardown(() => server.close());
  const notes: string[] = [];
  const started = Date.now();
  const result = await pushProfile(recorded(), { server: server.url, backoffMs: 20 }, (m) => notes.push(m));
  t.equal(result.attempts, 4);
  t.equal(server.requests.length, 4);
  t.equal(notes.length, 3);
  t.match(notes[0], /HTTP 503.*retrying in 20 ms/);
  t.match(notes[2], /retrying in 80 ms/, 'back-off doubles');
  t.ok(Date.now() - started >= 20 + 40 + 80);
});

t.test('bounded retries end in one clear error; 4xx is not retried; credentials never shown', async (t) => {
  const server = await startIngestServer([500, 500, 500]);
  t.teardown(() => server.close());
  await t.rejects(pushProfile(recorded(), { server: server.url.replace('http://', 'http://u:hunter2@'), retries: 2, backoffMs: 5 }), {
    message: `push to ${server.url}/ingest failed: HTTP 500 Internal Server Error: error 500`,
  });
  t.equal(server.requests.length, 3, 'first attempt + 2 retries');

  const denied = await startIngestServer([401]);
  t.teardown(() => denied.close());
  await t.rejects(pushProfile(recorded(), { server: denied.url, token: 'tok', backoffMs: 5 }), { message: /failed: HTTP 401 Unauthorized/ });
  t.equal(denied.requests.length, 1);
});

t.test('connection refused and time-outs are retried and reported', async (t) => {
  // A port that was just free: nothing listens there.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const notes: string[] = [];
  await t.rejects(pushProfile(recorded(), { server: `http://127.0.0.1:${port}`, retries: 1, backoffMs: 5 }, (m) => notes.push(m)), { message: /failed: ECONNREFUSED/ });
  t.equal(notes.length, 1);

  const silent = createServer(() => undefined).listen(0, '127.0.0.1');
  await new Promise((r) => silent.once('listening', r));
  t.teardown(() => silent.close());
  const sockets: import('node:net').Socket[] = [];
  silent.on('connection', (s) => sockets.push(s));
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  await t.rejects(
    pushProfile(recorded(), { server: `http://127.0.0.1:${(silent.address() as { port: number }).port}`, retries: 0, timeoutMs: 200 }),
    { message: /no answer within 200 ms/ },
  );
});

t.test('bad server URLs are refused before sending', async (t) => {
  t.throws(() => buildPushRequest(recorded(), { server: 'not a url' }), /--server must be a URL/);
  t.throws(() => buildPushRequest(recorded(), { server: 'ftp://x' }), /http or https/);
  t.equal(buildPushRequest(recorded(), { server: 'http://h:4040/pyroscope/' }).url.pathname, '/pyroscope/ingest');
  t.equal(buildPushRequest(recorded(), { server: 'http://h:4040/ingest' }).url.pathname, '/ingest');
});
