// Function starts through .eh_frame_hdr (src/unwind/eh-frame-index.ts) agree with the compiled
// unwind table's (function-start.ts) on real binaries: Debian's libc, node and python3, and a
// program built here with gcc. Compared at every FDE start, the bytes around it, and addresses
// drawn at random across the executable segment.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openFile } from '../../src/host/index.js';
import { ElfFile } from '../../src/symbolize/elf/file.js';
import { EhFrameIndex } from '../../src/unwind/eh-frame-index.js';
import { functionStart, functionStartsOf } from '../../src/unwind/function-start.js';
import { unwindTableFor } from '../../src/unwind/index.js';
import { requires, requiresTools } from '../helpers/requires.js';

const FIXTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'unwind', 'frames.c');
const PF_X = 1;

function compare(t: Test, path: string): void {
  const table = unwindTableFor(path, { cacheDirectory: undefined });
  const source = openFile(path);
  if (!table || !source) return void t.fail(`${path}: unreadable`);
  try {
    const elf = new ElfFile(source);
    const index = EhFrameIndex.of(elf);
    if (!index) return void t.fail(`${path}: no usable .eh_frame_hdr`);
    const known = functionStartsOf(table);
    const probes: number[] = [];
    for (const start of table.functionStarts) probes.push(start - 1, start, start + 1);
    // A fixed generator: the same addresses on every run.
    let seed = 0x2545f491;
    const random = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (const segment of elf.segments.filter((s) => (s.flags & PF_X) !== 0)) {
      for (let i = 0; i < 20_000; i++) probes.push(segment.vaddr + Math.floor(random() * segment.memsz));
    }
    const mismatches: string[] = [];
    let named = 0;
    for (const vaddr of probes) {
      const expected = functionStart(known, vaddr);
      const found = index.functionStart(vaddr);
      if (expected !== undefined) named++;
      if (found !== expected && mismatches.length < 20) mismatches.push(`0x${vaddr.toString(16)}: ${found?.toString(16)} vs ${expected?.toString(16)}`);
    }
    t.ok(named > probes.length / 2, `${path}: most probes fall in a function (${named} of ${probes.length})`);
    t.same(mismatches, [], `${path}: the same start as the compiled table for ${probes.length} addresses`);
  } finally {
    source.close();
  }
}

t.test('system binaries', async (t) => {
  for (const path of ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/bin/python3', '/usr/bin/node']) {
    let real: string | undefined;
    try {
      real = realpathSync(path);
    } catch {
      real = undefined;
    }
    if (!requires(t, path, real !== undefined)) continue;
    compare(t, real!);
  }
});

t.test('gcc -O2 program', async (t) => {
  if (!requiresTools(t, 'gcc')) return;
  const dir = mkdtempSync(join(tmpdir(), 'profile-eh-index-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const program = join(dir, 'frames');
  execFileSync('gcc', ['-O2', '-fomit-frame-pointer', '-o', program, FIXTURE]);
  compare(t, program);
});
