// Stack quality per binary (src/symbolize/stack-quality.ts): shares walked by tables, by frame
// pointers and stopped early, and advice that follows the most frequent reason and tells a binary
// without unwind information from one whose tables were not loaded yet. Made-up stacks; < 1 s.
import t from 'tap';
import { unwindMarker, type Mapping, type ProcessSnapshot } from '../../src/profile/raw.js';
import { StackQualityCounter, stackQualityLines } from '../../src/symbolize/stack-quality.js';

const mapping = (start: bigint, path: string): Mapping => ({ start, end: start + 0x100000n, offset: 0n, perms: 'r-xp', dev: '08:01', inode: 1, path });
const snapshot: ProcessSnapshot = {
  pid: 7,
  comm: 'app',
  mappings: [mapping(0x400000n, '/usr/bin/app'), mapping(0x7f0000000000n, '/usr/lib/libc.so.6'), mapping(0x7f1000000000n, '/usr/lib/libplug.so'), mapping(0x3000000n, '')],
};
const APP = 0x401000n;
const LIBC = 0x7f0000001000n;
const PLUG = 0x7f1000001000n;
const JIT = 0x3001000n;
const COMPLETE = unwindMarker(0, 1);
const DEPTH = unwindMarker(1, 1);
const NO_TABLE = unwindMarker(2, 1);

function lines(stacks: [readonly bigint[], number][], withoutTables = new Map<string, string>()): string[] {
  const counter = new StackQualityCounter(new Map([[7, snapshot]]));
  for (const [stack, weight] of stacks) counter.add(7, stack, weight);
  return stackQualityLines(counter.finish(), withoutTables);
}

t.test('shares per leaf binary', async (t) => {
  const out = lines([[[LIBC, APP, COMPLETE], 6], [[LIBC, APP], 2], [[LIBC, NO_TABLE], 2]]);
  t.equal(out[0], 'user stacks: 60 % walked by unwind tables to the outermost frame, 20 % by frame pointers only, 20 % stopped early');
  t.match(out[1], /^libc\.so\.6: 10 samples, 60 % tables, 20 % frame pointers, 20 % stopped early \(no-unwind-info 2\)/);
});

t.test('the advice follows the most frequent reason, where those walks stopped', async (t) => {
  // Mostly too deep (in app), a few stopped in the plug-in without unwind information.
  const out = lines([[[APP, APP, DEPTH], 9], [[APP, PLUG, NO_TABLE], 2]], new Map([['/usr/lib/libplug.so', 'no-unwind-info']]));
  t.match(out[1], /\(depth-limit 9, no-unwind-info 2\): deeper than 127 frames/);
  const plugin = lines([[[APP, PLUG, NO_TABLE], 3]], new Map([['/usr/lib/libplug.so', 'no-unwind-info']]));
  t.match(plugin[1], /: libplug\.so has no unwind information: install its -dbgsym package/, 'named where the walks stopped, not the leaf');
});

t.test('a binary with tables that were not loaded yet is not told to install debug packages', async (t) => {
  const out = lines([[[LIBC, NO_TABLE], 4]], new Map([['/usr/lib/libplug.so', 'no-unwind-info']]));
  t.match(out[1], /libc\.so\.6's tables were not in the kernel yet/);
  t.notMatch(out[1], /dbgsym/);
  t.match(lines([[[LIBC, NO_TABLE], 1]], new Map([['/usr/lib/libc.so.6', 'row-space-full']]))[1], /raise --unwind-table-rows/);
  t.match(lines([[[APP, JIT, NO_TABLE], 1]])[1], /code in \[anon\] has neither unwind tables nor frame pointers/);
});
