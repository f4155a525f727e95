/**
 * The symbolizer core on real binaries built by the test setup (gcc and clang; PIE, non-PIE, a
 * shared library; separate debug files by build-id and debuglink; wrong and corrupt files) and on
 * live processes: the RawProfile is made from the real addresses of a running fixture and its
 * /proc/PID/maps, and names, file:line and inline chains are compared with `eu-addr2line -f -i`.
 * ~10 s on this machine under load (most of it compiling).
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { captureProcess, closeCapturedFiles } from '../../src/host/index.js';
import type { Frame, Profile } from '../../src/profile/model.js';
import type { ProcessSnapshot, RawProfile, RawSample } from '../../src/profile/raw.js';
import { symbolizeWithReport } from '../../src/symbolize/index.js';
import { Kallsyms } from '../../src/symbolize/kallsyms.js';
import { FrameTable } from '../../src/symbolize/cache.js';
import { DwarfFile } from '../../src/symbolize/dwarf/index.js';
import { openFile } from '../../src/host/index.js';
import { ownVdso } from '../../src/host/binary.js';
import { ElfFile } from '../../src/symbolize/elf/file.js';
import { readSymbols } from '../../src/symbolize/elf/symbols.js';
import { requires, requiresTools } from '../helpers/requires.js';
import { buildFixtures, euAddr2line, startFixture, type ElfFixtures } from './elf-fixtures.js';

if (requiresTools(t, 'gcc', 'clang-14', 'eu-addr2line', 'objcopy', 'strip', 'readelf', 'nm')) run();

function nmSymbols(path: string): Map<string, { address: number; size: number }> {
  const out = execFileSync('nm', ['-S', path], { encoding: 'utf8' });
  const symbols = new Map<string, { address: number; size: number }>();
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) [tT] (\S+)$/.exec(line);
    if (m) symbols.set(m[3]!, { address: parseInt(m[1]!, 16), size: parseInt(m[2]!, 16) });
  }
  return symbols;
}

function rawProfile(pid: number, snapshot: ProcessSnapshot, stacks: readonly (readonly bigint[])[], kernelStacks: readonly (readonly bigint[])[] = []): RawProfile {
  // One thread per stack, so that equal stacks stay separate stacks in the profile.
  const samples: RawSample[] = stacks.map((userStack, i) => ({ pid, tid: pid + i, comm: 'fixture', userStack, kernelStack: kernelStacks[i] ?? [], count: 1 }));
  return { samples, processes: new Map([[pid, snapshot]]), metadata: { title: 'passes through' } };
}

function frames(profile: Profile, stackIndex: number): Frame[] {
  return profile.stacks[stackIndex]!.frames.map((id) => profile.frame(id));
}

const asText = (f: Frame): string => `${f.name}@${f.file ?? '??'}:${f.line ?? 0}`;

/** Loaded base of `path` in a snapshot: where file offset 0 is mapped. */
function loadBase(snapshot: ProcessSnapshot, path: string): bigint {
  const m = snapshot.mappings.find((m) => m.path === path && m.offset === 0n)!;
  return m.start;
}

/** Every address of `function` in `file`, symbolized live and by eu-addr2line. */
async function compareWithEu(t: Test, fixtures: ElfFixtures, program: string, file: string, fn: string, options: { debugFile?: string } = {}): Promise<void> {
  const live = await startFixture(fixtures.path(program));
  t.teardown(() => live.stop());
  const snapshot = captureProcess(live.pid)!;
  t.ok(snapshot, 'captured');
  const path = fixtures.path(file);
  const symbols = nmSymbols(options.debugFile ?? path);
  const sym = symbols.get(fn)!;
  t.ok(sym, `${fn} in ${file}`);
  // PIE and shared objects: the bias is the load base; non-PIE: none (absolute vaddrs).
  const isExec = execFileSync('readelf', ['-h', path], { encoding: 'utf8' }).includes('EXEC');
  const bias = isExec ? 0n : loadBase(snapshot, path);
  const vaddrs = Array.from({ length: sym.size }, (_, i) => sym.address + i);
  const raw = rawProfile(live.pid, snapshot, vaddrs.map((v) => [BigInt(v) + bias]));
  const { profile, report } = await symbolizeWithReport(raw, { debugDirectories: [fixtures.debugDir], cacheDirectory: undefined });
  const expected = euAddr2line(options.debugFile ?? path, vaddrs);
  let same = 0;
  const differences: string[] = [];
  profile.stacks.forEach((stack, i) => {
    const ours = stack.frames.map((id) => asText(profile.frame(id)));
    if (ours.join(' > ') === expected[i]!.join(' > ')) same++;
    else if (differences.length < 3) differences.push(`0x${vaddrs[i]!.toString(16)}: ours ${ours.join(' > ')} | eu ${expected[i]!.join(' > ')}`);
  });
  t.equal(profile.stacks.length, vaddrs.length, 'one stack per address');
  // eu-addr2line takes the inline chain at the start of the line-table row, not at the address
  // itself (docs/decisions.md): a few addresses inside a row may differ, never the names of functions.
  t.ok(same >= vaddrs.length * 0.9, `${same}/${vaddrs.length} addresses equal eu-addr2line -f -i ${differences.join('; ')}`);
  const outerNames = new Set(profile.stacks.map((s) => profile.frame(s.frames[0]!).name));
  t.same([...outerNames], [fn], 'the function itself is the outermost frame of every address');
  t.ok(profile.frames.some((f) => f.kind === 'inline'), 'inlined frames are their own frames');
  t.same(report.modules.filter((m) => m.module === file), [], 'nothing reported missing for the fixture');
  t.equal(profile.metadata.title, 'passes through', 'metadata passes through');
  t.same(profile.stacks[0]!.thread, { comm: 'fixture', pid: live.pid, tid: live.pid }, 'thread info on each stack');
}

function run(): void {
  const fixtures = buildFixtures(['gcc', 'clang-14']);
  t.teardown(() => {
    closeCapturedFiles();
    fixtures.cleanup();
  });

  for (const cc of ['gcc', 'clang-14']) {
    t.test(`${cc} PIE: names, file:line and inline chains equal eu-addr2line`, (t) => compareWithEu(t, fixtures, `${cc}-pie`, `${cc}-pie`, 'leaf_function'));
    t.test(`${cc} non-PIE: the same`, (t) => compareWithEu(t, fixtures, `${cc}-nopie`, `${cc}-nopie`, 'leaf_function'));
    t.test(`${cc} shared library mapped with its load bias`, (t) => compareWithEu(t, fixtures, `${cc}-pie`, `lib${cc}fixture.so`, 'lib_work'));
  }

  t.test('stripped binary, debug file found by build-id', (t) => compareWithEu(t, fixtures, 'stripped', 'stripped', 'leaf_function', { debugFile: fixtures.path('stripped.debug') }));
  t.test('stripped binary, debug file found by .gnu_debuglink and its CRC', (t) => compareWithEu(t, fixtures, 'linked', 'linked', 'leaf_function', { debugFile: fixtures.path('.debug/linked.debug') }));

  for (const [program, reason] of [
    ['wrongid', /build-id .* differs/],
    ['badcrc', /CRC32 .* differs/],
  ] as const) {
    t.test(`${program}: a debug file of another build is refused, with one warning`, async (t) => {
      const live = await startFixture(fixtures.path(program));
      t.teardown(() => live.stop());
      const snapshot = captureProcess(live.pid)!;
      const symbols = nmSymbols(fixtures.path('gcc-pie'));
      const bias = loadBase(snapshot, fixtures.path(program));
      const leaf = symbols.get('leaf_function')!;
      const stacks = [[bias + BigInt(leaf.address + 4)], [bias + BigInt(leaf.address + 8)], [live.addresses.main!]];
      const warnings: string[] = [];
      const { profile, report } = await symbolizeWithReport(rawProfile(live.pid, snapshot, stacks), { debugDirectories: [fixtures.debugDir], warn: (w) => warnings.push(w) });
      t.equal(warnings.filter((w) => reason.test(w)).length, 1, `one warning: ${warnings.join(' | ')}`);
      for (let i = 0; i < 3; i++) {
        const [frame] = frames(profile, i);
        t.match(frame!.name, new RegExp(`^\\[${program}\\+0x[0-9a-f]+\\]$`), 'stripped (not in .dynsym): module+offset, never a wrong name');
        t.equal(frame!.file, undefined, 'no file:line from the wrong debug file');
      }
      t.ok(report.modules.some((m) => m.module === program && m.unnamedSamples === 3), 'reported as lacking symbols');
    });
  }

  t.test('clang without .debug_aranges: the same frames as with it', async (t) => {
    const plain = DwarfFile.open(openFile(fixtures.path('libnoaranges.so'))!)!;
    const indexed = DwarfFile.open(openFile(fixtures.path('libclang-14fixture.so'))!)!;
    t.teardown(() => {
      plain.close();
      indexed.close();
    });
    const fn = nmSymbols(fixtures.path('libnoaranges.so')).get('lib_work')!;
    let inline = 0;
    for (let a = fn.address; a < fn.address + fn.size; a++) {
      const frames = plain.frames(a, true);
      t.same(frames, indexed.frames(a, true), `0x${a.toString(16)}`);
      t.ok(frames.length > 0 && frames[0]!.line, 'has file:line');
      if (frames.length > 1) inline++;
    }
    t.ok(inline > 0, 'with inlined frames');
  });

  t.test('on-disk cache: a second run gives the same frames from the cache; a corrupt cache is ignored', async (t) => {
    const live = await startFixture(fixtures.path('gcc-pie'));
    t.teardown(() => live.stop());
    const snapshot = captureProcess(live.pid)!;
    const leaf = live.addresses.leaf_function!;
    const stacks = Array.from({ length: 40 }, (_, i) => [leaf + BigInt(i), live.addresses.main! + 1n]);
    const cacheDirectory = fixtures.path('cache');
    const render = (p: Profile): string[] => p.stacks.map((s) => s.frames.map((id) => asText(p.frame(id))).join(' > '));
    const first = await symbolizeWithReport(rawProfile(live.pid, snapshot, stacks), { cacheDirectory });
    const id = execFileSync('readelf', ['-n', fixtures.path('gcc-pie')], { encoding: 'utf8' }).match(/Build ID: ([0-9a-f]+)/)![1]!;
    const file = `${cacheDirectory}/v2/${id}.bin`;
    const withDwarf = true;
    const table = new FrameTable(withDwarf);
    t.ok(table.load(readFileSync(file), id), 'a valid cache file written under the build-id');
    t.ok(table.frameCount > 0, 'holding frames');
    const otherId = `${id.slice(0, -1)}${id.endsWith('0') ? '1' : '0'}`;
    t.notOk(new FrameTable(withDwarf).load(readFileSync(file), otherId), 'refused for another build-id');
    t.notOk(new FrameTable(!withDwarf).load(readFileSync(file), id), 'refused when DWARF availability differs');
    const held = readFileSync(file).readUInt32LE(12);
    t.ok(held > 1, `${held} addresses in the file`);
    t.notOk(new FrameTable(withDwarf).load(readFileSync(file), id, held - 1), 'a table past the bound is not read (the run starts empty)');
    t.ok(new FrameTable(withDwarf).load(readFileSync(file), id, held), 'one at the bound is');
    const second = await symbolizeWithReport(rawProfile(live.pid, snapshot, stacks), { cacheDirectory });
    t.same(render(second.profile), render(first.profile), 'same frames from the cache');
    const noInline = await symbolizeWithReport(rawProfile(live.pid, snapshot, stacks), { cacheDirectory, inline: false });
    t.notOk(noInline.profile.frames.some((f) => f.kind === 'inline'), 'inline: false from the same cache');
    const good = readFileSync(file);
    // Truncated, and a frame number pointing past the frame table (same length): both refused.
    const wild = Buffer.from(good);
    const header = 40 + Math.ceil(id.length / 8) * 8;
    const addresses = wild.readUInt32LE(12);
    wild.writeUInt32LE(0xffff_fff0, header + addresses * 8 + (addresses + 1) * 4);
    for (const corrupt of [good.subarray(0, good.length - 3), wild]) {
      t.notOk(new FrameTable(withDwarf).load(corrupt, id), 'corrupt file refused');
      writeFileSync(file, corrupt);
      const third = await symbolizeWithReport(rawProfile(live.pid, snapshot, stacks), { cacheDirectory });
      t.same(render(third.profile), render(first.profile), 'corrupt cache ignored');
      t.ok(new FrameTable(withDwarf).load(readFileSync(file), id), 'and rewritten');
    }
  });

  t.test('truncated and corrupt ELF files: one warning each, frames keep module+offset', async (t) => {
    const cases: [string, (b: Buffer) => Buffer][] = [
      ['truncated', (b) => b.subarray(0, 200)],
      ['badsections', (b) => {
        const c = Buffer.from(b);
        c.writeBigUInt64LE(BigInt(c.length) - 10n, 40); // e_shoff just before the end
        return c;
      }],
      ['notelf', (b) => Buffer.concat([Buffer.from('garbage!'), b.subarray(8)])],
    ];
    const original = readFileSync(fixtures.path('gcc-pie'));
    const mappings = [];
    let start = 0x5500_0000_0000n;
    for (const [name, damage] of cases) {
      writeFileSync(fixtures.path(name), damage(original));
      mappings.push({ start, end: start + 0x10000n, offset: 0x1000n, perms: 'r-xp', dev: '00:00', inode: 1, path: fixtures.path(name) });
      start += 0x100000n;
    }
    const snapshot: ProcessSnapshot = { pid: process.pid, comm: 'node', mappings };
    const stacks = mappings.flatMap((m) => [[m.start + 0x1b0n], [m.start + 0x1c0n]]);
    const warnings: string[] = [];
    const { profile } = await symbolizeWithReport(rawProfile(process.pid, snapshot, stacks), { warn: (w) => warnings.push(w) });
    for (const [name] of cases) t.equal(warnings.filter((w) => w.includes(fixtures.path(name))).length, 1, `one warning for ${name}`);
    profile.stacks.forEach((_, i) => t.match(frames(profile, i)[0]!.name, /^\[(truncated|badsections|notelf)\+0x[0-9a-f]+\]$/, 'module+offset'));
  });

  t.test('a short-lived process is symbolized from its snapshot after it exits', async (t) => {
    const live = await startFixture(fixtures.path('gcc-pie'));
    const snapshot = captureProcess(live.pid)!;
    live.stop();
    await new Promise((r) => live.child.once('exit', r));
    const { profile } = await symbolizeWithReport(rawProfile(live.pid, snapshot, [[live.addresses.middle_function! + 1n, live.addresses.main! + 1n]]), { inline: false });
    t.same(frames(profile, 0).map((f) => f.name), ['main', 'middle_function'], 'root first, named through the descriptors captured while it ran');
    t.notOk(profile.frames.some((f) => f.kind === 'inline'), 'inline: false gives no inline frames');
  });

  t.test('addresses outside the snapshot: a library mapped later is named, no mapping gives [unknown], never a raw address', async (t) => {
    const live = await startFixture(fixtures.path('gcc-pie'));
    t.teardown(() => live.stop());
    const full = captureProcess(live.pid)!;
    const libc = full.mappings.find((m) => m.perms[2] === 'x' && /\/libc\.so\.6$/.test(m.path));
    t.ok(libc, 'the fixture maps libc.so.6');
    if (!libc) return;
    // As if libc had been mapped after the capture (dlopen): the snapshot lacks it, the live process has it.
    const snapshot: ProcessSnapshot = { ...full, mappings: full.mappings.filter((m) => m.path !== libc.path) };
    const inLibc = libc.start + (libc.end - libc.start) / 2n;
    const raw = rawProfile(live.pid, snapshot, [[inLibc, live.addresses.main! + 1n], [0x1n, live.addresses.main! + 1n]]);
    const gone = 0x7fff_fff0;
    const withGone: RawProfile = { ...raw, samples: [...raw.samples, { pid: gone, tid: gone, comm: 'gone', userStack: [0x7f00_1234_5678n], kernelStack: [], count: 1 }] };
    const { profile, report } = await symbolizeWithReport(withGone);
    const [later, garbage, uncaptured] = [frames(profile, 0), frames(profile, 1), frames(profile, 2)];
    t.equal(later[0]!.name, 'main', 'root first');
    t.equal(later.at(-1)!.module, 'libc.so.6', 'the library mapped after the capture is found in the live maps');
    t.notMatch(later.at(-1)!.name, /^\[|^0x/, `and named (${later.at(-1)!.name})`);
    t.same(garbage.map((f) => [f.name, f.module]), [['main', undefined], ['[unknown]', '[unknown]']].map(([n, m], i) => [n, m ?? garbage[i]!.module]), 'no mapping covers 0x1: [unknown]');
    t.same(uncaptured.map((f) => [f.name, f.module]), [['[unknown]', '[process not captured]']], 'a process never captured: [unknown]');
    t.notOk(profile.frames.some((f) => /^0x/.test(f.name)), 'no raw address among the user frames');
    t.ok(report.modules.some((m) => m.module === '[unknown]' && m.unnamedSamples === 1), 'counted in the report');
  });

  t.test('[vdso] frames are named from the kernel\'s vDSO image', async (t) => {
    const image = ownVdso();
    t.ok(image, 'this process has a readable [vdso]');
    if (!image) return;
    const symbols = readSymbols([new ElfFile(image.source)]);
    const at = [...Array(symbols.length).keys()].find((i) => /clock_gettime$/.test(symbols.names.name(i)));
    t.ok(at !== undefined, 'the image has clock_gettime');
    const live = await startFixture(fixtures.path('gcc-pie'));
    t.teardown(() => live.stop());
    const snapshot = captureProcess(live.pid)!;
    const vdso = snapshot.mappings.find((m) => m.path === '[vdso]')!;
    const { profile } = await symbolizeWithReport(rawProfile(live.pid, snapshot, [[vdso.start + BigInt(symbols.addresses[at!]!) + 2n, live.addresses.main! + 1n]]));
    const leaf = frames(profile, 0).at(-1)!;
    t.match(leaf, { module: '[vdso]', kind: 'user' }, 'a user frame in [vdso]');
    t.match(leaf.name, /clock_gettime$/, `named (${leaf.name})`);
  });

  t.test('kernel frames from kallsyms, modules kept, below the user frames', async (t) => {
    const text = readFileSync('/proc/kallsyms', 'utf8');
    const kallsyms = Kallsyms.parse(text);
    if (!requires(t, 'kernel addresses in /proc/kallsyms (root, kptr_restrict below 2)', kallsyms !== undefined) || !kallsyms) return;
    const sched = /^([0-9a-f]+) T schedule$/m.exec(text);
    const moduleLine = /^([0-9a-f]+) t (\S+)\t\[(\S+)\]$/m.exec(text);
    t.ok(sched, 'schedule in kallsyms');
    const schedule = BigInt(`0x${sched![1]}`);
    t.same(kallsyms.lookup(schedule + 5n), { name: 'schedule', module: '[kernel.kallsyms]', offset: 5n }, 'above 2^53 without losing precision');
    if (moduleLine) t.match(kallsyms.lookup(BigInt(`0x${moduleLine[1]}`))!, { module: moduleLine[3] }, 'module name kept');
    const live = await startFixture(fixtures.path('gcc-pie'));
    t.teardown(() => live.stop());
    const snapshot = captureProcess(live.pid)!;
    const { profile } = await symbolizeWithReport(rawProfile(live.pid, snapshot, [[live.addresses.main!]], [[schedule + 5n, schedule + 9n]]));
    t.same(frames(profile, 0).map((f) => `${f.kind}:${f.name}`), ['user:main', 'kernel:schedule', 'kernel:schedule'], 'user then kernel, root first');
  });

  t.test('report: a system binary without debug info names its package', async (t) => {
    const sleepPath = execFileSync('sh', ['-c', 'readlink -f "$(command -v sleep)"'], { encoding: 'utf8' }).trim();
    const live = spawn(sleepPath, ['30']);
    t.teardown(() => void live.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 100));
    const snapshot = captureProcess(live.pid!)!;
    const text = snapshot.mappings.find((m) => m.path === sleepPath && m.perms[2] === 'x')!;
    const { profile, report } = await symbolizeWithReport(rawProfile(live.pid!, snapshot, [[text.start + 0x10n], [text.start + 0x20n]]));
    const gap = report.modules.find((m) => m.module === 'sleep');
    t.ok(gap, `sleep reported: ${JSON.stringify(report.modules)}`);
    t.equal(gap!.package, 'coreutils', 'owner from dpkg -S');
    t.equal(gap!.fix, 'coreutils-dbgsym', 'what to install');
    t.equal(gap!.samplesWithoutDebugInfo, 2, 'both samples counted');
    t.ok(profile.metadata.notes?.some((n) => n.includes('coreutils-dbgsym')), 'in the run notes');
    t.same((profile.metadata.extra as { symbolization: unknown }).symbolization, report, 'and in metadata.extra');
  });
}
