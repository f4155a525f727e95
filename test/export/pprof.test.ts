import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';
import { encodePprof } from '../../src/export/pprof.js';
import { loadProfile } from '../../src/input/index.js';
import { ProfileBuilder } from '../../src/profile/builder.js';
import { foldedLines } from '../../src/profile/folded.js';
import { runCli } from '../helpers/cli.js';
import { buildProgram } from '../record/fixtures.js';
import { requiresBpf, requiresTools } from '../helpers/requires.js';
import { ROUND_TRIP_FILES } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'profile-pprof-'));

/** A recording-like profile: two processes, kernel frames, an inlined frame, file/line, build-id. */
function recorded() {
  const b = new ProfileBuilder();
  const main = { name: 'main', kind: 'user' as const, module: '/usr/bin/app', file: 'app.c', line: 40 };
  const work = { name: 'work', kind: 'user' as const, module: '/usr/bin/app', file: 'app.c', line: 20 };
  const hash = { name: 'hash_step', kind: 'inline' as const, module: '/usr/bin/app', file: 'hash.h', line: 7 };
  const write = { name: '__libc_write', kind: 'user' as const, module: '/usr/lib/x86_64-linux-gnu/libc.so.6' };
  const sys = { name: 'ksys_write', kind: 'kernel' as const };
  const ext4 = { name: 'ext4_file_write_iter', kind: 'kernel' as const, module: 'ext4' };
  b.addFrames([main, work, hash], 70, { comm: 'app', pid: 100, tid: 100 });
  b.addFrames([main, work], 10, { comm: 'app', pid: 100, tid: 101 });
  b.addFrames([main, write, sys, ext4], 15, { comm: 'app', pid: 100, tid: 100 });
  b.addFrames([{ name: 'poll', kind: 'user' }], 5, { comm: 'other', pid: 200 });
  return b.build({ frequencyHz: 99, durationSeconds: 1, startTime: '2024-05-01T10:00:00.000Z', extra: { buildIds: { '/usr/bin/app': 'deadbeef01' } } });
}

function goEnv(): NodeJS.ProcessEnv {
  // No network and no writes to the real home: pprof only reads the local file.
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  return { ...process.env, HOME: home, GOPATH: join(home, 'go'), GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', GOTELEMETRY: 'off', PPROF_TMPDIR: dir };
}

function pprof(...args: string[]): string {
  const result = spawnSync('go', ['tool', 'pprof', ...args], { env: goEnv(), encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`go tool pprof ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

t.test('go tool pprof reads the export: top functions, totals, cpu time, labels, build-id, inline lines', async (t) => {
  if (!requiresTools(t, 'go')) return;
  const file = join(dir, 'rec.pb.gz');
  writeFileSync(file, encodePprof(recorded()));

  const samples = pprof('-top', '-sample_index=samples', file);
  t.match(samples, /Showing nodes accounting for 100, 100% of 100 total/);
  const flat = (text: string, name: string): string | undefined => text.split('\n').find((l) => l.trim().endsWith(` ${name}`) || l.trim().endsWith(` ${name} (inline)`))?.trim().split(/\s+/)[0];
  t.equal(flat(samples, 'hash_step'), '70', 'inlined leaf keeps its own samples');
  t.equal(flat(samples, 'work'), '10');
  t.equal(flat(samples, 'ext4_file_write_iter'), '15');
  t.equal(flat(samples, 'poll'), '5');
  const topLine = samples.split('\n').find((l) => /^\s+\d/.test(l));
  t.match(topLine, /hash_step \(inline\)$/, 'hottest function first, shown as inlined');

  // cpu = samples × 1e9/99 ns (10101010 ns period): 100 samples ≈ 1.01 s.
  const cpu = pprof('-top', '-sample_index=cpu', '-unit=ms', file);
  t.match(cpu, /of 1010\.10ms total/);

  const raw = pprof('-raw', file);
  t.match(raw, /PeriodType: cpu nanoseconds\nPeriod: 10101010/);
  t.match(raw, /samples\/count cpu\/nanoseconds/);
  t.match(raw, /70  707070700: /);
  t.match(raw, /comm:\[app\]/);
  t.match(raw, /pid:\[100\]/);
  t.match(raw, /tid:\[101\]/);
  t.match(raw, /\/usr\/bin\/app deadbeef01/, 'mapping carries the build-id');
  t.match(raw, /hash_step hash\.h:7 s=0\n\s+work app\.c:20 s=0/, 'inlined frame listed before its caller on one location');
  t.match(raw, /\[kernel\.kallsyms\]/);
  t.match(raw, /\[ext4\]/);

  const tagged = pprof('-top', '-sample_index=samples', '-tagfocus=comm=other', file);
  t.match(tagged, /Showing nodes accounting for 5, 5\.00% of 100 total\n.*\n\s+5\s+5\.00%.*poll\n/, 'comm label selects a process');
});

t.test('the encoded message keeps what pprof requires', async (t) => {
  const message = PprofProfile.decode(gunzipSync(encodePprof(recorded())));
  const strings = message.stringTable.strings;
  t.equal(strings[0], '', 'string table starts with the empty string');
  t.same(message.sampleType.map((s) => `${strings[Number(s.type)]}/${strings[Number(s.unit)]}`), ['samples/count', 'cpu/nanoseconds']);
  t.ok(message.sample.every((s) => s.value.length === 2), 'every sample has one value per sample type');
  t.ok(message.function.every((f) => Number(f.id) > 0) && message.location.every((l) => l.line.every((line) => Number(line.functionId) > 0)), 'no id 0');
  t.equal(Number(message.timeNanos), Date.parse('2024-05-01T10:00:00.000Z') * 1e6);
  t.equal(Number(message.durationNanos), 1e9);
});

t.test('folded → pprof → folded is identical on real fixture files', async (t) => {
  for (const file of ROUND_TRIP_FILES) {
    const profile = await loadProfile(file);
    const out = join(dir, 'rt.pb.gz');
    writeFileSync(out, encodePprof(profile));
    const back = await loadProfile(out);
    t.same(foldedLines(back), foldedLines(profile), file);
    t.same(foldedLines(back, { processFrame: 'comm-pid/tid', annotateKernel: true, annotateJit: true }), foldedLines(profile, { processFrame: 'comm-pid/tid', annotateKernel: true, annotateJit: true }), `${file}: threads and kinds`);
  }
});

t.test('the main mapping is the program, even when a library was sampled first', async (t) => {
  const b = new ProfileBuilder();
  const start = { name: '_dl_start', kind: 'user' as const, module: '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' };
  const libc = { name: 'memcpy', kind: 'user' as const, module: '/usr/lib/x86_64-linux-gnu/libc.so.6' };
  const vdso = { name: 'clock_gettime', kind: 'user' as const, module: '[vdso]' };
  const other = { name: 'main', kind: 'user' as const, module: '/usr/bin/helper' };
  const main = { name: 'main', kind: 'user' as const, module: '/usr/bin/app' };
  b.addFrames([start], 1, { comm: 'app', pid: 1 });
  b.addFrames([vdso], 1, { comm: 'app', pid: 1 });
  b.addFrames([other], 2, { comm: 'helper', pid: 2 });
  b.addFrames([main, libc], 50, { comm: 'app', pid: 1 });
  const decoded = PprofProfile.decode(gunzipSync(encodePprof(b.build({}))));
  const name = (i: number): string => String(decoded.stringTable.strings[Number(decoded.mapping[i]!.filename)]);
  t.same(decoded.mapping.map((_, i) => name(i)), ['/usr/bin/app', '/usr/bin/helper', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', '[vdso]']);
  t.same(decoded.mapping.map((m) => Number(m.id)), [1, 2, 3, 4, 5], 'ids renumbered in order');
  for (const location of decoded.location) t.ok(Number(location.mappingId) >= 1 && Number(location.mappingId) <= 5);
});

t.test('recorded profiles round-trip kinds, modules, files, lines and threads', async (t) => {
  const profile = recorded();
  const out = join(dir, 'rec2.pb.gz');
  writeFileSync(out, encodePprof(profile));
  const back = await loadProfile(out);
  t.same(foldedLines(back, { processFrame: 'comm-pid/tid', annotateKernel: true, annotateInline: true }), foldedLines(profile, { processFrame: 'comm-pid/tid', annotateKernel: true, annotateInline: true }));
  const frame = (name: string) => back.frames.find((f) => f.name === name);
  t.same(frame('hash_step'), { name: 'hash_step', kind: 'inline', module: '/usr/bin/app', file: 'hash.h', line: 7 });
  t.same(frame('ext4_file_write_iter'), { name: 'ext4_file_write_iter', kind: 'kernel', module: 'ext4' });
  t.equal(back.metadata.frequencyHz, 99);
  t.equal(back.metadata.durationSeconds, 1);
});

t.test('a Go profile from the real toolchain reads', async (t) => {
  const profile = await loadProfile(join(import.meta.dirname, '../../fixtures/fuzz/pprof-go.pb.gz'));
  t.ok(profile.stacks.length > 0);
  t.ok(profile.frames.some((f) => f.file?.endsWith('.go')), 'Go file names kept');
  t.same(foldedLines(await loadProfile(join(import.meta.dirname, '../../fixtures/fuzz/pprof-go.pb'))), foldedLines(profile), 'uncompressed file (Go writes time_nanos first, recognised by its .pb name) reads the same');
});

t.test('fractional weights are refused with a clear error', async (t) => {
  const b = new ProfileBuilder();
  b.addFrames([{ name: 'x', kind: 'user' }], 1.5);
  t.throws(() => encodePprof(b.build()), /pprof values are whole numbers/);
});

t.test('a real recording exported as pprof: go tool pprof finds the known call tree', async (t) => {
  if (!requiresTools(t, 'go') || !requiresBpf(t)) return;
  const program = buildProgram('calltree');
  const out = join(dir, 'calltree.pb.gz');
  const result = await runCli(['record', '-o', out, '--', program, '2', join(dir, 'tally')], { timeoutMs: 120_000 });
  t.equal(result.code, 0, result.stderr);
  const top = pprof('-top', '-sample_index=samples', out);
  const total = Number(/of (\d+) total/.exec(top)?.[1]);
  t.ok(total > 100, `${total} samples`);
  // calltree spends 50 % in a, 30 % in b and 20 % in d (main→c→d).
  for (const [name, share] of [['a', 50], ['b', 30], ['d', 20]] as const) {
    const line = top.split('\n').find((l) => l.trim().endsWith(` ${name}`));
    const flat = Number(line?.trim().split(/\s+/)[0]);
    t.ok(Math.abs((100 * flat) / total - share) < 12, `${name}: ${flat} of ${total} samples, expected ~${share} %`);
  }
  t.match(pprof('-traces', '-sample_index=samples', out), /\s+d\n\s+c\n\s+main\n/, 'main→c→d kept as a call chain');
  // pprof prints 2000ms, not 2000.00ms, for a whole number: compare the value, not the text.
  const cpuTop = pprof('-top', '-sample_index=cpu', '-unit=ms', out);
  t.match(cpuTop, /Type: cpu/);
  const cpuMs = Number(/of ([\d.]+)ms total/.exec(cpuTop)?.[1]);
  t.ok(Math.abs(cpuMs - (total * 1000) / 99) < 0.01, `cpu = samples × 1/99 s (${cpuMs} ms for ${total} samples)`);
  t.match(top, /^File: calltree$/m, 'the profiled program is the main mapping');
});

t.test('long fields, deep inline groups and large values decode as written', async (t) => {
  // Lengths past one varint byte (a 1,000-byte name, a location of 300 inlined lines) move the
  // content the writer had put after a one-byte length; 2^40 samples of 10 ms pass 2^53 ns.
  const b = new ProfileBuilder();
  const long = 'f'.repeat(1000);
  const outer = { name: long, kind: 'user' as const, module: '/usr/bin/deep', file: 'deep.c', line: 1 };
  const inlined = Array.from({ length: 300 }, (_, i) => ({ name: `inl${i}`, kind: 'inline' as const, module: '/usr/bin/deep', file: 'deep.h', line: i + 1 }));
  b.addFrames([outer, ...inlined], 2 ** 40, { comm: 'deep', pid: 4_000_000, tid: 4_000_001 });
  b.addFrames([outer], 3, { comm: 'é\u2603', pid: 1 });
  const message = PprofProfile.decode(gunzipSync(encodePprof(b.build({ frequencyHz: 100, startTime: '2030-01-01T00:00:00.000Z', durationSeconds: 7200 }))));
  const strings = message.stringTable.strings;
  const deepest = message.sample.find((s) => Number(s.value[0]) === 2 ** 40)!;
  t.ok(deepest, 'the large sample');
  t.equal(BigInt(deepest.value[1]!), 2n ** 40n * 10_000_000n, 'cpu nanoseconds past 2^53');
  t.equal(deepest.locationId.length, 1, 'one location for the frame and its inlined callees');
  const location = message.location[Number(deepest.locationId[0]) - 1]!;
  const names = location.line.map((l) => strings[Number(message.function[Number(l.functionId) - 1]!.name)]);
  t.equal(names.length, 301);
  t.equal(names[0], 'inl299', 'innermost first');
  t.equal(names[300], long, 'the outer function last, its 1,000-byte name whole');
  t.same(location.line.slice(0, 3).map((l) => Number(l.line)), [300, 299, 298]);
  const labels = (s: (typeof message.sample)[number]) => s.label.map((l) => `${strings[Number(l.key)]}=${l.str ? strings[Number(l.str)] : Number(l.num)}`);
  t.same(labels(deepest), ['comm=deep', 'pid=4000000', 'tid=4000001']);
  t.same(labels(message.sample.find((s) => Number(s.value[0]) === 3)!), ['comm=é\u2603', 'pid=1'], 'UTF-8 strings');
  t.equal(BigInt(message.timeNanos), BigInt(Date.parse('2030-01-01T00:00:00.000Z')) * 1_000_000n);
  t.equal(BigInt(message.durationNanos), 7200n * 1_000_000_000n);
  t.equal(Number(message.period), 10_000_000);
});
