// Input files through the real CLI: empty, binary, truncated, missing or a directory give one
// line with file (and line) and exit 2; a few hundred MB through standard input stream with
// bounded memory. ~15 s (the 300 MB stream is most of it).
import t from 'tap';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { oneLineError, runCli } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'profile-inputs-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

t.test('empty file and empty standard input', async (t) => {
  const empty = await runCli(['collapse', file('empty.txt', '')]);
  t.equal(oneLineError(empty), undefined);
  t.match(empty.stderr, /empty\.txt: input is empty/);
  const blank = await runCli(['collapse', file('blank.txt', '\n\n   \n')]);
  t.equal(oneLineError(blank), undefined);
  const stdin = await runCli(['collapse'], { input: '' });
  t.equal(oneLineError(stdin), undefined);
  t.match(stdin.stderr, /<stdin>: input is empty/);
});

t.test('binary files: ELF, perf.data, compressed, random bytes, NUL bytes — one short line naming the kind', async (t) => {
  const folded = Buffer.from('main;a;b 10\nmain;c 5\n'.repeat(200));
  for (const [name, bytes, kind] of [
    ['elf', readFileSync(process.execPath).subarray(0, 1 << 20), ' (ELF)'],
    ['perfdata', Buffer.concat([Buffer.from('PERFILE2'), Buffer.alloc(200), randomBytes(4000)]), " (perf.data: run 'perf script' on it first)"],
    ['gz', gzipSync(folded), ' (gzip: decompress it first)'],
    ['zst', Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(2000)]), ' (zstd: decompress it first)'],
    ['random', randomBytes(1 << 20), ''],
    ['zeros', Buffer.alloc(1 << 16), ''],
  ] as const) {
    const path = file(name, bytes);
    const result = await runCli(['collapse', path]);
    t.equal(oneLineError(result), undefined, name);
    const line = result.stderr.trim();
    t.equal(line, `profile: ${path}:1: binary file${kind}, not a stack format (expected perf script, bpftrace, BCC profile or folded stacks)`, name);
  }
  // Invalid UTF-8 alone is not binary when the format is recognised: a comm can hold such bytes.
  const odd = await runCli(['collapse', file('odd.folded', Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(';main 3\n')]))]);
  t.equal(odd.code, 0, odd.stderr);
  t.match(odd.stdout, /^caf\ufffd;main 3$/m);
});

t.test('truncated input: a folded file cut inside its last line names that line', async (t) => {
  const full = 'main;a;b 10\nmain;a;c 5\nmain;d 7\n';
  const cut = file('cut.folded', full.slice(0, full.length - 4)); // "main;d" without its count
  const result = await runCli(['collapse', cut]);
  t.equal(oneLineError(result), undefined);
  t.match(result.stderr, /cut\.folded:3: expected folded stack/);
  const cutMidName = await runCli(['collapse', file('cut2.folded', full.slice(0, 16))]);
  t.equal(oneLineError(cutMidName), undefined);
  t.match(cutMidName.stderr, /cut2\.folded:2:/);
});

t.test('a missing input, a directory as input', async (t) => {
  const missing = await runCli(['collapse', join(work, 'nope.txt')]);
  t.equal(oneLineError(missing), undefined);
  t.match(missing.stderr, /nope\.txt: cannot read: no such file or directory/);
  const dir = join(work, 'dir');
  mkdirSync(dir);
  const isDir = await runCli(['collapse', dir]);
  t.equal(oneLineError(isDir), undefined);
  t.match(isDir.stderr, /is a directory/);
});

const MB = 1 << 20;

async function* foldedStream(totalBytes: number): AsyncGenerator<Buffer> {
  // 1,000 distinct stacks repeated: memory must follow distinct stacks, not input size.
  const lines: string[] = [];
  for (let i = 0; i < 1000; i++) lines.push(`service;handler_${i % 50};worker_${i};compute_${i % 7};leaf_${i} ${1 + (i % 3)}`);
  const block = Buffer.from(lines.join('\n') + '\n');
  for (let sent = 0; sent < totalBytes; sent += block.length) yield block;
}

t.test('300 MB of folded stacks through standard input: correct totals, bounded RSS', async (t) => {
  const total = Number(process.env.PROFILE_HUGE_INPUT_MB ?? 300) * MB;
  const result = await runCli(['collapse'], { input: () => foldedStream(total), timeoutMs: 180_000 });
  t.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split('\n');
  t.equal(lines.length, 1000, 'one line per distinct stack');
  const blockBytes = Buffer.byteLength(Array.from({ length: 1000 }, (_, i) => `service;handler_${i % 50};worker_${i};compute_${i % 7};leaf_${i} ${1 + (i % 3)}`).join('\n') + '\n');
  const blocks = Math.ceil(total / blockBytes);
  const weight = lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  t.equal(weight, blocks * 1999, 'every sample counted');
  t.ok(result.peakRssKb > 0 && result.peakRssKb < 250 * 1024, `peak RSS ${(result.peakRssKb / 1024).toFixed(0)} MB < 250 MB for ${total / MB} MB of input`);
});

t.test('200 MB without a newline through standard input: one line, bounded RSS, fast', async (t) => {
  const started = Date.now();
  const chunk = Buffer.alloc(MB, 0x41);
  const result = await runCli(['collapse'], {
    input: async function* () {
      for (let i = 0; i < 200; i++) yield chunk;
    },
    timeoutMs: 120_000,
  });
  t.equal(oneLineError(result), undefined);
  t.match(result.stderr, /<stdin>:1: line is longer than/);
  t.ok(result.peakRssKb < 500 * 1024, `peak RSS ${(result.peakRssKb / 1024).toFixed(0)} MB < 500 MB`);
  t.ok(Date.now() - started < 30_000, 'rejected in linear time');
});
