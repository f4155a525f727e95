import t from 'tap';
import { join } from 'node:path';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { loadProfile, readPprof } from '../../src/input/index.js';
import { foldedLines } from '../../src/profile/folded.js';
import { runCli } from '../helpers/cli.js';
import { requiresBpf } from '../helpers/requires.js';
import { startIngestServer } from '../helpers/ingest.js';

const file = join(import.meta.dirname, '../../fixtures/diff/before.folded');

t.test('profile push FILE --server sends pprof with name, token from the environment and tenant', async (t) => {
  const server = await startIngestServer();
  t.teardown(() => server.close());
  const result = await runCli(['push', file, '--server', server.url, '--name', 'web{env=ci}', '--tenant', 'team-a'], { env: { PROFILE_PUSH_TOKEN: 'from-env' } });
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stderr, `profile: pushed to ${server.url}/ingest\n`);
  const req = server.requests[0]!;
  t.equal(req.query.get('name'), 'web{env=ci}');
  t.equal(req.headers.authorization, 'Bearer from-env');
  t.equal(req.headers['x-scope-orgid'], 'team-a');
  t.same(foldedLines(readPprof(gunzipSync(req.profileFile!), 'pushed')), foldedLines(await loadProfile(file)));
});

t.test('a failing server: retried, then one line, exit 1, the file kept', async (t) => {
  const server = await startIngestServer([502, 502]);
  t.teardown(() => server.close());
  const before = readFileSync(file);
  const result = await runCli(['push', file, '--server', server.url, '--retries', '1', '--token', 'secret-token']);
  t.equal(result.code, 1);
  const lines = result.stderr.split('\n').filter(Boolean);
  t.equal(lines.length, 1, result.stderr);
  t.match(lines[0], /^profile: push to http:\/\/127\.0\.0\.1:\d+\/ingest failed: HTTP 502 Bad Gateway: error 502; .*before\.folded is unchanged$/);
  t.notMatch(result.stderr, /secret-token/);
  t.equal(server.requests.length, 2);
  t.ok(existsSync(file) && readFileSync(file).equals(before));
});

t.test('profile record --push sends the recording it also writes', async (t) => {
  if (!requiresBpf(t)) return;
  const server = await startIngestServer([503]);
  t.teardown(() => server.close());
  const out = join(mkdtempSync(join(tmpdir(), 'profile-push-')), 'rec.pb.gz');
  const result = await runCli(['record', '-o', out, '--push', server.url, '--name', 'rec{ci=1}', '--retries', '2', '--', 'sh', '-c', 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'], { timeoutMs: 120_000 });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stderr, /pushed to http:\/\/127\.0\.0\.1:\d+\/ingest/);
  t.equal(server.requests.length, 2, 'a 503 is retried');
  const req = server.requests[1]!;
  t.equal(req.query.get('name'), 'rec{ci=1}');
  t.equal(req.query.get('sampleRate'), '99');
  t.ok(Number(req.query.get('until')) >= Number(req.query.get('from')));
  const pushed = readPprof(gunzipSync(req.profileFile!), 'pushed');
  t.same(foldedLines(pushed), foldedLines(await loadProfile(out)), 'the server got what was written');
  t.ok(pushed.stacks.some((s) => s.thread?.comm === 'sh'), 'the recorded command is in it');
});
