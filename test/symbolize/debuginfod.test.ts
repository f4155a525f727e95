/**
 * Debug files from a real debuginfod (Debian `debuginfod`) over a directory of fixture debug
 * files. debuginfod cannot listen on loopback only, so it and the client run inside `unshare -n`,
 * whose only network is loopback: a small script (using the built dist/) starts the server, waits
 * until it has indexed the directory, and symbolizes a live stripped fixture. ~10 s.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { requiresRoot, requiresTools } from '../helpers/requires.js';
import { buildFixtures, buildIdOf } from './elf-fixtures.js';

const DIST = join(import.meta.dirname, '..', '..', 'dist');

const SCRIPT = `
import { execFileSync, spawn } from 'node:child_process';
const [dist, served, program, cache, db] = process.argv.slice(2);
const { captureProcess, closeCapturedFiles } = await import(dist + '/host/index.js');
const { symbolizeWithReport } = await import(dist + '/symbolize/index.js');
execFileSync('ip', ['link', 'set', 'lo', 'up']);
const port = 8100 + (process.pid % 500);
const server = spawn('debuginfod', ['-F', served, '-p', String(port), '-d', db], { stdio: 'ignore' });
const url = 'http://127.0.0.1:' + port;
const id = process.env.BUILD_ID;
const result = { warnings: [] };
try {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(url + '/buildid/' + id + '/debuginfo', { method: 'HEAD' });
      if (r.status === 200) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  const child = spawn(program, ['wait'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const text = await new Promise((resolve) => child.stdout.on('data', (d) => resolve(String(d))));
  const main = BigInt(/main (0x[0-9a-f]+)/.exec(text)[1]);
  const leaf = BigInt(/leaf_function (0x[0-9a-f]+)/.exec(text)[1]);
  const snapshot = captureProcess(child.pid);
  const samples = [{ pid: child.pid, tid: child.pid, comm: 'remote', userStack: [leaf + 4n, main + 8n], kernelStack: [], count: 1 }];
  for (let i = 0n; i < 48n; i++) samples.push({ pid: child.pid, tid: child.pid + 1, comm: 'remote', userStack: [leaf + i], kernelStack: [], count: 1 });
  const raw = { samples, processes: new Map([[child.pid, snapshot]]), metadata: {} };
  const symbolizeWith = async (urls) => {
    const warnings = [];
    const started = Date.now();
    const { profile, report } = await symbolizeWithReport(raw, { debuginfodUrls: urls, debuginfodCache: cache, debuginfodTimeoutMs: 2000, debugDirectories: [], cacheDirectory: undefined, warn: (w) => warnings.push(w) });
    return { ms: Date.now() - started, warnings, frames: profile.stacks[0].frames.map((f) => profile.frame(f)), anyInline: profile.frames.some((f) => f.kind === 'inline'), report };
  };
  // A dead server first (refused: reported once), then the real one, then the cache alone.
  result.dead = await symbolizeWith(['http://127.0.0.1:1', 'http://127.0.0.1:2']);
  result.served = await symbolizeWith(['http://127.0.0.1:1', url]);
  server.kill();
  result.cached = await symbolizeWith([url]);
  child.kill();
  closeCapturedFiles();
} finally {
  server.kill();
}
console.log(JSON.stringify(result));
`;

if (requiresTools(t, 'gcc', 'clang-14', 'debuginfod', 'unshare', 'ip', 'objcopy') && requiresRoot(t, 'unshare -n')) {
  const fixtures = buildFixtures(['gcc']);
  const work = mkdtempSync(join(tmpdir(), 'profile-debuginfod-'));
  t.teardown(() => {
    fixtures.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  writeFileSync(join(work, 'client.mjs'), SCRIPT);
  const id = buildIdOf(fixtures.path('remote'));
  const run = spawnSync('unshare', ['-n', process.execPath, join(work, 'client.mjs'), DIST, fixtures.path('served'), fixtures.path('remote'), join(work, 'cache'), join(work, 'db.sqlite')], {
    encoding: 'utf8',
    env: { ...process.env, BUILD_ID: id },
    timeout: 60_000,
  });
  t.equal(run.status, 0, `client ran: ${run.stderr}`);
  type Frame = { name: string; kind: string; file?: string; line?: number };
  type Run = { ms: number; warnings: string[]; frames: Frame[]; anyInline: boolean };
  const result = JSON.parse(run.stdout) as { dead: Run; served: Run; cached: Run };

  t.test('servers that refuse: one warning each, module+offset, no wait', async (t) => {
    t.equal(result.dead.warnings.length, 2, result.dead.warnings.join(' | '));
    t.match(result.dead.warnings[0], /debuginfod http:\/\/127\.0\.0\.1:1: unreachable/);
    t.match(result.dead.frames.at(-1)!.name, /^\[remote\+0x[0-9a-f]+\]$/, 'stripped leaf keeps module+offset');
    t.ok(result.dead.ms < 2000, `${result.dead.ms} ms`);
  });

  t.test('the debug file served by debuginfod names the stripped binary, with lines and inlines', async (t) => {
    t.same(result.served.frames.filter((f) => f.kind !== 'inline').map((f) => f.name), ['main', 'leaf_function'], 'named');
    t.ok(result.served.anyInline, 'inlined frames');
    t.ok(result.served.frames.every((f) => f.file?.endsWith('prog.c') && f.line! > 0), 'file:line on every frame');
    t.equal(result.served.warnings.length, 1, 'the dead server is reported once, the live one works');
  });

  t.test('the cache serves the next run without the server', async (t) => {
    t.same(result.cached.frames, result.served.frames, 'same frames');
    t.same(result.cached.warnings, [], 'no server needed');
  });
}
