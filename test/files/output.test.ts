// Output paths through the real CLI: replaced atomically, or one line on stderr with exit 2, no
// stack trace and no temporary file left behind. Read-only and full file systems are real tmpfs
// mounts and immutable files are real `chattr +i` (root bypasses mode bits, so 0555 proves nothing).
// Needs root for mount/chattr; ~6 s.
import t, { type Test } from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliEnv, cliSpawnArgs, oneLineError, runCli } from '../helpers/cli.js';
import { requiresRoot } from '../helpers/requires.js';

const INPUT = 'main;work;leaf 3\nmain;other 2\n';
const OUTPUT = 'main;other 2\nmain;work;leaf 3\n';

function tempsIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.includes('.profile-tmp-'));
}


function mountTmpfs(t: Test, dir: string, options: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  t.teardown(() => execFileSync('umount', ['-l', dir]));
}

function chattr(t: Test, flag: '+i', path: string): void {
  execFileSync('chattr', [flag, path]);
  t.teardown(() => execFileSync('chattr', ['-i', path]));
}

const work = mkdtempSync(join(tmpdir(), 'profile-files-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

t.test('an existing output file is replaced by a new one (rename), never rewritten in place', async (t) => {
  const out = join(work, 'existing.folded');
  writeFileSync(out, 'old content 1\n');
  const witness = join(work, 'existing.witness');
  linkSync(out, witness); // a second name for the old inode: it must keep the old bytes
  const result = await runCli(['collapse', '-o', out], { input: INPUT });
  t.equal(result.code, 0, result.stderr);
  t.equal(readFileSync(out, 'utf8'), OUTPUT);
  t.equal(readFileSync(witness, 'utf8'), 'old content 1\n', 'the old inode was not truncated or written to');
  t.not(statSync(out).ino, statSync(witness).ino, 'the path now names a new file');
  t.same(tempsIn(work), []);
});

t.test('an output path that is a directory', async (t) => {
  const dir = join(work, 'adir.folded');
  mkdirSync(dir);
  const result = await runCli(['collapse', '-o', dir], { input: INPUT });
  t.equal(oneLineError(result), undefined);
  t.match(result.stderr, /adir\.folded: is a directory/);
  const bare = await runCli(['collapse', '--format', 'folded', '-o', work], { input: INPUT });
  t.equal(oneLineError(bare), undefined);
  t.match(bare.stderr, /is a directory/);
  t.same(tempsIn(work), []);
  t.same(readdirSync(dir), []);
});

t.test('an output path in a missing directory, or under a file', async (t) => {
  const missing = await runCli(['collapse', '-o', join(work, 'no', 'such', 'x.folded')], { input: INPUT });
  t.equal(oneLineError(missing), undefined);
  t.match(missing.stderr, /x\.folded: cannot write: no such file or directory/);
  writeFileSync(join(work, 'plain'), '');
  const underFile = await runCli(['collapse', '-o', join(work, 'plain', 'x.folded')], { input: INPUT });
  t.equal(oneLineError(underFile), undefined);
  t.match(underFile.stderr, /a parent is not a directory/);
});

t.test('an output path on a read-only file system', async (t) => {
  if (!requiresRoot(t, 'read-only mount')) return;
  const dir = join(work, 'ro');
  mkdirSync(dir);
  mountTmpfs(t, dir, 'ro,size=64k');
  const result = await runCli(['collapse', '-o', join(dir, 'x.folded')], { input: INPUT });
  t.equal(oneLineError(result), undefined);
  t.match(result.stderr, /x\.folded: cannot write: read-only file system/);
  t.same(readdirSync(dir), []);
});

t.test('an immutable output file and an immutable directory (chattr +i): old file intact, no temp file', async (t) => {
  if (!requiresRoot(t, 'chattr +i')) return;
  const dir = join(work, 'immutable-file');
  mkdirSync(dir);
  const out = join(dir, 'x.folded');
  writeFileSync(out, 'old 1\n');
  chattr(t, '+i', out);
  const result = await runCli(['collapse', '-o', out], { input: INPUT });
  t.equal(oneLineError(result), undefined);
  t.match(result.stderr, /x\.folded: cannot write: permission denied/);
  t.equal(readFileSync(out, 'utf8'), 'old 1\n');
  t.same(tempsIn(dir), []);

  const locked = join(work, 'immutable-dir');
  mkdirSync(locked);
  chattr(t, '+i', locked);
  const inLocked = await runCli(['collapse', '-o', join(locked, 'y.folded')], { input: INPUT });
  t.equal(oneLineError(inLocked), undefined);
  t.match(inLocked.stderr, /y\.folded: cannot write: permission denied/);
  t.same(readdirSync(locked), []);
});

t.test('a full file system (64 KB tmpfs): ENOSPC is one line, the old file survives, no temp file', async (t) => {
  if (!requiresRoot(t, 'tmpfs mount')) return;
  const dir = join(work, 'full');
  mkdirSync(dir);
  mountTmpfs(t, dir, 'size=64k');
  const out = join(dir, 'x.folded');
  writeFileSync(out, 'old 1\n');
  // ~2 MB of distinct stacks: more than the file system holds, and more than one write buffer.
  const lines: string[] = [];
  for (let i = 0; i < 40_000; i++) lines.push(`main;function_number_${i};leaf_${i % 97} ${i + 1}`);
  const result = await runCli(['collapse', '-o', out], { input: lines.join('\n') + '\n' });
  t.equal(oneLineError(result), undefined);
  t.match(result.stderr, /x\.folded: cannot write: no space left on device/);
  t.equal(readFileSync(out, 'utf8'), 'old 1\n');
  t.same(tempsIn(dir), []);
  t.ok(existsSync(out));
});

t.test('standard output on a full device (> /dev/full): one line, exit 2', async (t) => {
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(...cliSpawnArgs(['collapse']), { env: cliEnv(), stdio: ['pipe', openSync('/dev/full', 'w'), 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin!.end(INPUT);
    child.on('close', (code) => resolve({ code, stderr }));
  });
  t.equal(result.code, 2);
  t.equal(result.stderr, 'profile: <stdout>: cannot write: no space left on device\n');
});
