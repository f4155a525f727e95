// Real recordings of programs built without frame pointers (gcc -O2 -fomit-frame-pointer, no -g):
// the unwind-table walker must give their whole call chains, with the CPU shares the programs
// measure themselves. Compared with `perf record --call-graph dwarf` on the same program, and with
// `--unwind fp`, which must show the flat stacks frame pointers give. About 60 s.
import t from 'tap';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { requiresBpf, requiresTools } from '../helpers/requires.js';
import { buildLibraryWithoutFramePointers, buildWithoutFramePointers, chains, MAIN_ROOT, share, type Chain } from './programs.js';

if (requiresBpf(t) && requiresTools(t, 'gcc', 'perf', 'gzip', 'python3', 'pkill')) {
  const dir = mkdtempSync(join(tmpdir(), 'profile-unwind-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const calltree = buildWithoutFramePointers('calltree');
  const unwind = buildWithoutFramePointers('unwind');
  const plugin = buildLibraryWithoutFramePointers('unwind-plugin');
  const children: ChildProcess[] = [];
  t.teardown(() => children.forEach((c) => c.kill('SIGKILL')));

  const recordCommand = async (args: readonly string[], command: readonly string[]): Promise<{ chains: Chain[]; stderr: string }> => {
    const out = join(dir, `out-${Date.now()}.folded`);
    const result = await runCli(['record', '-F', '499', '--user-only', ...args, '-o', out, '--', ...command], { timeoutMs: 60_000 });
    if (result.code !== 0) throw new Error(`record failed (${result.code}): ${result.stderr}`);
    return { chains: chains(readFileSync(out, 'utf8')), stderr: result.stderr };
  };
  const percent = (x: number): string => `${(100 * x).toFixed(1)} %`;
  /** a, b and c;d, called from main, with whatever they call (clock_gettime in the vDSO) above. */
  const calltreeLeaf = (c: Chain): string | undefined => {
    const text = c.frames.join(';');
    if (!MAIN_ROOT.test(text)) return undefined;
    const below = c.frames.slice(c.frames.indexOf('main') + 1);
    if (below[0] === 'a' || below[0] === 'b') return below[0];
    if (below[0] === 'c' && below[1] === 'd') return 'd';
    return undefined;
  };

  t.test('a known call tree: shares within 3 points of the program tally, >= 95 % exact chains, and perf --call-graph dwarf beside it', async (t) => {
    const tally = join(dir, 'tally');
    const { chains: all, stderr } = await recordCommand([], [calltree, '4', tally]);
    const own = Object.fromEntries(readFileSync(tally, 'utf8').trim().split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]));
    const mine = (c: Chain): boolean => c.comm === 'calltree-nofp';
    const exact = share(all, mine, (c) => calltreeLeaf(c) !== undefined);
    t.ok(exact.total > 1000, `enough samples (${exact.total})`);
    t.ok(exact.ratio >= 0.95, `exact chains: ${percent(exact.ratio)} of ${exact.total} samples`);
    const leafs: Record<string, number> = { a: 0, b: 0, d: 0 };
    for (const c of all.filter(mine)) {
      const leaf = calltreeLeaf(c);
      if (leaf) leafs[leaf]! += c.count;
    }
    const counted = leafs.a! + leafs.b! + leafs.d!;
    const ownTotal = own.a! + own.b! + own.d!;
    for (const k of ['a', 'b', 'd']) {
      const measured = (100 * leafs[k]!) / counted;
      const expected = (100 * own[k]!) / ownTotal;
      t.ok(Math.abs(measured - expected) <= 3, `${k}: ${measured.toFixed(1)} % sampled vs ${expected.toFixed(1)} % measured by the program`);
    }
    t.match(stderr, /user stacks: [\d.]+ % walked by unwind tables/, 'the summary says how stacks were walked');

    // perf's DWARF mode on the same program: copies 8 KB of stack per sample and unwinds in user space.
    const data = join(dir, 'perf.data');
    execFileSync('perf', ['record', '-q', '-F', '499', '--call-graph', 'dwarf', '-o', data, '--', calltree, '4', join(dir, 'tally-perf')], { stdio: 'ignore' });
    const script = execFileSync('perf', ['script', '-i', data], { maxBuffer: 1 << 30 });
    const collapsed = execFileSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'run.js'), 'collapse'], { input: script, maxBuffer: 1 << 30, env: { ...process.env, NODE_OPTIONS: '' } }).toString();
    const perfChains = chains(collapsed).map((c) => ({ ...c, frames: c.frames.filter((f) => !f.endsWith('_[k]')) }));
    const perfExact = share(perfChains, mine, (c) => calltreeLeaf(c) !== undefined);
    t.ok(perfExact.total > 500, `perf recorded the program (${perfExact.total} samples)`);
    t.comment(`exact chains: profile ${percent(exact.ratio)}, perf --call-graph dwarf ${percent(perfExact.ratio)}`);
    // perf copies the stack from the first sample; our first tens of ms of a process are walked with
    // frame pointers until its tables are in (2-4 % of this 4 s run), hence 5 points of room.
    t.ok(exact.ratio >= perfExact.ratio - 0.05, `within 5 points of perf's DWARF unwinding (${percent(exact.ratio)} vs ${percent(perfExact.ratio)})`);
  });

  t.test('--unwind fp walks the same program with frame pointers: callers lost', async (t) => {
    const { chains: all, stderr } = await recordCommand(['--unwind', 'fp'], [calltree, '2', join(dir, 'tally-fp')]);
    const exact = share(all, (c) => c.comm === 'calltree-nofp', (c) => calltreeLeaf(c) !== undefined);
    t.ok(exact.total > 300, `samples (${exact.total})`);
    t.ok(exact.ratio < 0.5, `frame pointers give exact chains for only ${percent(exact.ratio)} of a -fomit-frame-pointer program`);
    t.notMatch(stderr, /walked by unwind tables/, 'no table summary in fp mode');
  });

  const modes: { mode: string; select: (c: Chain) => boolean; expected: RegExp; what: string; args?: readonly string[] }[] = [
    {
      mode: 'qsort',
      what: 'a comparator called back from libc qsort',
      select: (c) => c.frames.at(-1) === 'cmp_slow',
      expected: /^_start;__libc_start_main[^;]*;__libc_start_call_main;main;sort_rounds;(__GI___)?qsort_r;(msort_with_tmp(\.part\.0)?;)+cmp_slow$/,
    },
    {
      mode: 'recurse',
      what: 'recursion 100 calls deep',
      select: (c) => c.frames.includes('recurse'),
      expected: new RegExp(`^_start;__libc_start_main[^;]*;__libc_start_call_main;main;(recurse;){100}recurse$`),
    },
    {
      mode: 'signal',
      what: 'a signal handler and the code it interrupted',
      select: (c) => c.frames.at(-1) === 'in_handler_work',
      expected: /^_start;__libc_start_main[^;]*;__libc_start_call_main;main;interrupted_loop;(now;)?(clock_gettime[^;]*;(__vdso_clock_gettime;)?)?__restore_rt;handler;in_handler_work$/,
    },
    {
      mode: 'thread',
      what: 'a thread started by pthread_create',
      select: (c) => c.frames.includes('thread_main'),
      expected: /^__clone3;start_thread;thread_main$/,
    },
    {
      mode: 'plt',
      what: 'calls into libc through the PLT',
      select: (c) => c.frames.includes('plt_loop'),
      expected: /^_start;__libc_start_main[^;]*;__libc_start_call_main;main;plt_loop(;__strlen_[a-z0-9]+)?$/,
    },
    {
      // Loaded 0.3 s after the start, long after the recorder read the process's memory map: the
      // walker asks for the map to be read again when it meets the library's pcs.
      mode: 'dlopen',
      what: 'a library loaded with dlopen after the process was captured',
      select: (c) => c.frames.at(-1) === 'plugin_inner',
      expected: /^_start;__libc_start_main[^;]*;__libc_start_call_main;main;plugin_run;plugin_inner$/,
      args: [plugin],
    },
  ];
  for (const { mode, select, expected, what, args } of modes) {
    t.test(`${what}: >= 95 % exact chains`, async (t) => {
      const { chains: all } = await recordCommand([], [unwind, mode, '4', ...(args ?? [])]);
      const result = share(all, (c) => c.comm === 'unwind-nofp' && select(c), (c) => expected.test(c.frames.join(';')));
      // At 499 Hz for 4 s: about 1,100 handler samples (it runs 3 ms of every 5 ms), 1,800 for the other modes.
      t.ok(result.total > 150, `samples (${result.total})`);
      t.ok(result.ratio >= 0.95, `${percent(result.ratio)} of ${result.total} samples`);
      if (result.ratio < 0.95) {
        const wrong = all.filter((c) => c.comm === 'unwind-nofp' && select(c) && !expected.test(c.frames.join(';'))).sort((x, y) => y.count - x.count);
        t.comment(wrong.slice(0, 5).map((c) => `${c.count} ${c.frames.join(';').slice(0, 300)}`).join('\n'));
      }
    });
  }

  t.test("Debian's python3 and gzip (no frame pointers, gzip stripped), system-wide: >= 90 % reach __libc_start_call_main", async (t) => {
    const input = join(dir, 'random.bin');
    writeFileSync(input, execFileSync('head', ['-c', '64000000', '/dev/urandom'], { maxBuffer: 1 << 27 }));
    const loop = (command: string): ChildProcess => {
      const child = spawn('sh', ['-c', command], { stdio: 'ignore' });
      children.push(child);
      return child;
    };
    const gzip = loop(`while :; do gzip -9 -c '${input}' > /dev/null; done`);
    const python = loop(`exec python3 -c "
import json
d = {'a': [{'x': i, 'y': str(i) * 3} for i in range(2000)]}
while True: json.loads(json.dumps(d))"`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const out = join(dir, 'system.folded');
    const result = await runCli(['record', '-F', '199', '--user-only', '--duration', '6', '-o', out], { timeoutMs: 60_000 });
    gzip.kill('SIGKILL');
    python.kill('SIGKILL');
    spawnSync('pkill', ['-f', `gzip -9 -c ${input}`]);
    t.equal(result.code, 0, result.stderr);
    const all = chains(readFileSync(out, 'utf8'));
    for (const comm of ['gzip', 'python3']) {
      const reached = share(all, (c) => c.comm === comm, (c) => c.frames.includes('__libc_start_call_main'));
      t.ok(reached.total > 100, `${comm}: samples (${reached.total})`);
      t.ok(reached.ratio >= 0.9, `${comm}: ${percent(reached.ratio)} of ${reached.total} samples reach __libc_start_call_main`);
    }
    const gzipNames = all.filter((c) => c.comm === 'gzip').flatMap((c) => c.frames.filter((f) => f.startsWith('[gzip+')));
    const distinct = new Set(gzipNames);
    t.ok(distinct.size > 0 && distinct.size < 60, `stripped gzip's unnamed frames grouped by function (${distinct.size} distinct)`);
    t.match(result.stderr, /gzip: \d+ samples, [\d.]+ % tables/, 'per-binary stack quality on stderr');
  });
}
