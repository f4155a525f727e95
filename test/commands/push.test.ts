import t from 'tap';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { readPprof } from '../../src/input/index.js';
import { foldedLines } from '../../src/profile/folded.js';
import { loadProfile } from '../../src/input/index.js';
import { runCli } from '../helpers/cli.js';
import { startIngestServer } from '../helpers/ingest.js';

const file = join(import.meta.dirname, '../fixtures/diff/before.folded');

t.test('profile push FILE --server sends pprof with name, token from the environment and tenant', async (t) => {
  const server = await startIngestServer();
  t.teardown(() => server.close());
  const result = await runCli(['push', file, '--server', server.url, '--name', 'web{env=ci}', '--tenant', 'team-a'], { env: { PROFILE_PUSH_TOKEN: 'from-env' } });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stderr, new RegExp(`pushed .*before\\.folded to ${server.url}/ingest`));
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
