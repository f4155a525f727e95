// Real node processes with --perf-basic-prof: their samples recorded with the real BPF recorder
// and named through their perf maps, and a node in its own mount+PID namespace whose map is found
// through /proc/PID/root and NSpid. Takes ~6 s.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { RECORD_DEFAULTS, record } from '../../src/record/index.js';
import { JitSymbolizer } from '../../src/symbolize/jit.js';
import { PerfMaps } from '../../src/symbolize/perfmap.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { isRoot, requires, requiresBpf, requiresTools } from '../helpers/requires.js';

const HOT = join(ROOT, 'fixtures', 'jit', 'hot.js');
const NODE_FLAGS = ['--perf-basic-prof', '--interpreted-frames-native-stack'];

// node never deletes its perf map: remove the ones this file's processes left in /tmp (new maps
// that name one of its programs; other tests may be running node at the same time).
const perfMapsBefore = new Set(readdirSync('/tmp').filter((f) => /^perf-\d+\.map$/.test(f)));
t.teardown(() => {
  for (const f of readdirSync('/tmp')) {
    if (!/^perf-\d+\.map$/.test(f) || perfMapsBefore.has(f)) continue;
    const text = readFileSync(join('/tmp', f), 'utf8');
    if (text.includes('/fixtures/jit/hot.js:') || /\/profile-(ts|e2e)-[^/]+\/out\/shapes\.js:/.test(text)) rmSync(join('/tmp', f), { force: true });
  }
});

t.test('samples of a node program are named by its perf map', async (t) => {
  if (!requiresBpf(t)) return;
  const result = await record({ ...RECORD_DEFAULTS, frequency: 499, command: [process.execPath, ...NODE_FLAGS, HOT, '700'], commandStdout: 'stderr' });
  t.equal(result.commandExitCode, 0);
  const nodePids = new Set(result.raw.samples.filter((s) => s.comm === 'node' || s.comm.startsWith('node')).map((s) => s.pid));
  t.equal(nodePids.size, 1, 'one node process sampled');
  const [pid] = nodePids;
  const warnings: string[] = [];
  const maps = new PerfMaps({ warn: (w) => warnings.push(w) });
  // The process is gone by now (node writes much of its map at exit): read on the host's /tmp.
  t.ok(maps.refresh(pid!, { uid: 0, nsPids: [pid!] }), 'the perf map is read after the exit');
  let total = 0;
  let inHot = 0;
  let inScript = 0;
  let callerBelow = 0;
  const leaves = new Map<string, number>();
  for (const sample of result.raw.samples) {
    if (sample.pid !== pid) continue;
    total += sample.count;
    // Leaf first: the names from the leaf down to main.
    const names = sample.userStack.map((address) => maps.lookup(pid!, address)?.name ?? '');
    const leaf = names.find((n) => n !== '') ?? '(native)';
    leaves.set(leaf, (leaves.get(leaf) ?? 0) + sample.count);
    if (names.some((n) => n.includes('/fixtures/jit/hot.js:'))) inScript += sample.count;
    const hot = names.findIndex((n) => /^JS:[~^+*]innerHotLoop /.test(n));
    if (hot < 0) continue;
    inHot += sample.count;
    if (names.slice(hot + 1).some((n) => /^JS:[~^+*]outerCaller /.test(n))) callerBelow += sample.count;
  }
  t.ok(total > 100, `${total} samples of node`);
  const top = [...leaves].sort((a, b) => b[1] - a[1]);
  const shown = top.slice(0, 4).map(([n, c]) => `${c} ${n}`).join('; ');
  // Samples of node's other threads (GC, compiler, libuv workers) and of its start-up and exit
  // have no JavaScript frames at all, and JS code often sits under a native leaf: count JS leaves.
  t.match(top.find(([n]) => n.startsWith('JS:'))?.[0], /^JS:[~^+*]innerHotLoop /, `the hottest JS leaf is innerHotLoop (${shown})`);
  t.ok(inScript > total * 0.1, `hot.js code in ${inScript} of ${total} samples`);
  // Optimised code inlines innerHotLoop into outerCaller, so the caller is not always a frame of its own.
  t.ok(callerBelow > 0, `outerCaller below innerHotLoop in ${callerBelow} samples`);
  t.same(warnings, []);
  maps.close();
});

t.test('a TypeScript program profiled: its .ts names and lines through the source map', async (t) => {
  if (!requiresBpf(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'profile-ts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'src'));
  const source = join(ROOT, 'fixtures', 'jit', 'shapes.ts');
  copyFileSync(source, join(dir, 'src', 'shapes.ts'));
  // A package.json of its own: the fixture runs as CommonJS (absolute paths in the perf map).
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}');
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--sourceMap', '--target', 'es2022', '--module', 'commonjs', '--outDir', join(dir, 'out'), join(dir, 'src', 'shapes.ts')]);
  const result = await record({ ...RECORD_DEFAULTS, frequency: 499, command: [process.execPath, ...NODE_FLAGS, join(dir, 'out', 'shapes.js'), '700'], commandStdout: 'stderr' });
  t.equal(result.commandExitCode, 0);
  const warnings: string[] = [];
  const jit = new JitSymbolizer({}, { warn: (w) => warnings.push(w) });
  jit.finish(result.raw.processes);
  const [pid] = new Set(result.raw.samples.filter((s) => s.comm === 'node').map((s) => s.pid));
  t.ok(jit.seen(pid!, { uid: 0, nsPids: [pid!] }));
  const weights = new Map<string, number>();
  for (const sample of result.raw.samples) {
    if (sample.pid !== pid) continue;
    for (const address of sample.userStack) {
      const frame = await jit.frame(pid!, address);
      if (frame?.file?.endsWith('.ts')) weights.set(`${frame.name}|${frame.line}|${frame.kind}|${frame.module}`, (weights.get(`${frame.name}|${frame.line}|${frame.kind}|${frame.module}`) ?? 0) + sample.count);
    }
  }
  const lines = readFileSync(source, 'utf8').split('\n');
  const lineOf = (text: string): number => lines.findIndex((l) => l.includes(text)) + 1;
  const ts = join(dir, 'src', 'shapes.ts');
  const found = [...weights.keys()];
  t.ok(
    found.some((k) => k.startsWith(`spinTypeScript ${ts}:${lineOf('function spinTypeScript')}:`) && k.endsWith(`|${lineOf('function spinTypeScript')}|jit|[perf-${pid}.map]`)),
    `spinTypeScript at its .ts line (${found.join(', ')})`,
  );
  t.ok(found.some((k) => k.startsWith(`area ${ts}:${lineOf('  area(): number')}:`)) || found.some((k) => k.startsWith(`spinTypeScript ${ts}`)), 'area, unless inlined into spinTypeScript');
  t.same(warnings, []);
  jit.close();
});

t.test('end to end: profile record -- node --perf-basic-prof shows JavaScript and TypeScript names', async (t) => {
  if (!requiresBpf(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'profile-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'src'));
  copyFileSync(join(ROOT, 'fixtures', 'jit', 'shapes.ts'), join(dir, 'src', 'shapes.ts'));
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}');
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--sourceMap', '--target', 'es2022', '--module', 'commonjs', '--outDir', join(dir, 'out'), join(dir, 'src', 'shapes.ts')]);
  // Without tap's NODE_OPTIONS, so the profiled node runs only the program.
  const env = { NODE_OPTIONS: '' };
  const js = await runCli(['record', '-F', '499', '--', process.execPath, ...NODE_FLAGS, HOT, '800'], { env, timeoutMs: 120_000 });
  t.equal(js.code, 0, js.stderr);
  const hotPath = HOT.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  t.match(js.stdout, new RegExp(`;outerCaller ${hotPath}:\\d+:\\d+;innerHotLoop ${hotPath}:\\d+:\\d+[; ]`), 'JS caller and callee by name (ES module URL shown as a path), in order');
  t.match(js.stdout, /;node::Start\(int, char\*\*\);/, 'node\'s own C++ frames demangled');
  const ts = await runCli(['record', '-F', '499', '--', process.execPath, ...NODE_FLAGS, join(dir, 'out', 'shapes.js'), '800'], { env, timeoutMs: 120_000 });
  t.equal(ts.code, 0, ts.stderr);
  const tsPath = join(dir, 'src', 'shapes.ts').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const line = readFileSync(join(dir, 'src', 'shapes.ts'), 'utf8').split('\n').findIndex((l) => l.includes('function spinTypeScript')) + 1;
  t.match(ts.stdout, new RegExp(`;spinTypeScript ${tsPath}:${line}:\\d+[; ]`), 'the TypeScript name, file and line');
  t.notMatch(ts.stdout, /shapes\.js:/, 'no frame left at a .js position');
  const demangled = await runCli(['record', '-F', '499', '--no-demangle', '--', process.execPath, HOT, '300'], { env, timeoutMs: 120_000 });
  t.equal(demangled.code, 0, demangled.stderr);
  t.match(demangled.stdout, /;_ZN4node5StartEiPPc;/, '--no-demangle keeps mangled names');
  t.notMatch(demangled.stdout, /node::Start/);
});

/** Children of a process (their host PIDs). */
function children(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

/** The command name of a process, or undefined once it is gone. */
function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

// Runs inside the namespace. The private /tmp hides the host's, and with it the checkout when that
// lives under /tmp: the program is opened before the mount and copied into the new /tmp from that
// descriptor, so the contained node runs the same file wherever the repository is.
// $1: the program, $2: node, the rest: node's arguments before the program's.
const IN_NAMESPACE = [
  'set -e',
  'exec 3< "$1"',
  'mount -t tmpfs tmpfs /tmp',
  'cat <&3 > /tmp/hot.js',
  'exec 3<&-',
  'node=$2; shift 2',
  'exec env -u NODE_OPTIONS "$node" "$@" /tmp/hot.js 900',
].join('\n');

t.test('a node in its own mount and PID namespace, read through /proc/PID/root and NSpid', async (t) => {
  if (!requiresTools(t, 'unshare', 'mount') || !requires(t, 'root for unshare --pid --mount', isRoot())) return;
  // A private /tmp inside: the map exists only in the namespace, under the name perf-1.map. The
  // contained process dies with unshare (--kill-child), so a failed start leaves nothing running.
  // Without tap's NODE_OPTIONS: its hook lives under the checkout, which may itself be under /tmp.
  const args = ['--fork', '--kill-child', '--pid', '--mount', '--mount-proc', '--propagation', 'private', 'sh', '-c', IN_NAMESPACE, 'sh', HOT, process.execPath, ...NODE_FLAGS];
  const outer = spawn('unshare', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  outer.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => outer.once('exit', (code) => resolve((exitCode = code))));
  let pid: number | undefined;
  for (let i = 0; i < 200 && pid === undefined && exitCode === undefined; i++) {
    await new Promise((r) => setTimeout(r, 30));
    pid = children(outer.pid!).find((child) => commOf(child) === 'node');
  }
  if (pid === undefined) {
    const state = exitCode === undefined ? 'still running after 6 s' : `exited with ${exitCode}`;
    outer.kill('SIGKILL');
    await exited;
    t.fail(`node did not start inside the namespace (unshare ${state}): ${stderr.trim() || 'nothing on stderr'}`);
    return;
  }
  t.pass(`node started inside the namespace (host pid ${pid})`);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  t.match(status, new RegExp(`NSpid:\\s+${pid}\\s+1\\n`), 'pid 1 inside');
  const warnings: string[] = [];
  const maps = new PerfMaps({ warn: (w) => warnings.push(w) });
  // As the recorder would, look until V8 has created its map (soon after start).
  let found = false;
  for (let i = 0; i < 100 && !found; i++) {
    found = maps.refresh(pid);
    if (!found) await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(found, 'found while running through /proc/PID/root/tmp/perf-1.map');
  const early = [...(maps.mapOf(pid)?.symbols() ?? [])].length;
  t.notOk(existsSync(`/tmp/perf-${pid}.map`), 'not on the host');
  t.equal(await exited, 0, stderr);
  t.notOk(existsSync(`/proc/${pid}/root`), 'the process is gone');
  maps.refreshAll();
  // Read once more after the exit, through the descriptor held since first sight: node wrote its
  // optimised code's lines late, and the namespace's /tmp is gone with the namespace.
  const symbols = [...(maps.mapOf(pid)?.symbols() ?? [])];
  t.ok(symbols.length > early, `${early} symbols at first sight, ${symbols.length} after the exit`);
  const hot = symbols.filter((s) => /^JS:[~^+*]innerHotLoop (file:\/\/)?\//.test(s.name));
  t.ok(hot.length > 0, 'JS names of the contained process');
  t.ok(hot.some((s) => s.name.startsWith('JS:*')), 'including the optimised code written late');
  if (hot[0] !== undefined) t.equal(maps.lookup(pid, hot[0].start)?.name, hot[0].name, 'looked up by address');
  t.same(warnings, []);
  maps.close();
});
