// Perf map parsing, overlap resolution and the ownership checks on real files of real processes.
// Takes ~1 s.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, closeSync, fstatSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openPerfMap, parsePerfMap, PerfMap, PerfMaps, perfMapKey } from '../../src/symbolize/perfmap.js';
import { ROOT } from '../helpers/cli.js';
import { requiresRoot } from '../helpers/requires.js';

const HOSTILE = join(ROOT, 'fixtures', 'jit', 'hostile.map');

t.test('parses START SIZE NAME lines and skips the rest with one warning', async (t) => {
  const { map, warning } = parsePerfMap(readFileSync(HOSTILE, 'utf8'), 'hostile.map');
  t.equal(warning, 'hostile.map:4: skipped 4 lines that are not "START SIZE NAME" (first: "this is not a map line")');
  const name = (address: number): string | undefined => map.lookup(address)?.name;
  t.equal(name(0x1000), 'first_function');
  t.equal(name(0x10ff), 'first_function');
  t.equal(name(0x1100), 'LazyCompile:~with spaces file:///srv/app.js:3:10', 'names keep their spaces');
  t.equal(name(0x1200), 'hex_prefixed');
  t.equal(name(0x1240), undefined, 'end is exclusive');
  t.equal(name(0xfff), undefined);
  t.equal(name(0x1400), 'old_code');
  t.equal(name(0x1450), 'new_code_over_old', 'a later entry wins where it overlaps');
  t.equal(name(0x1469), 'new_code_over_old');
  t.equal(name(0x1470), 'old_code', 'the earlier entry still covers what the later one does not');
  t.equal(name(0x1500), undefined, 'zero-size entries hold nothing');
  t.equal(map.lookup(0x1f6bf3392326n + 0x10n)?.name, 'JS:~hotLoop /tmp/jitexp/app.js:1:17', 'bigint addresses');
  t.same(map.lookup(0x1f6bf3392326)!, { start: 0x1f6bf3392326, end: 0x1f6bf3392326 + 0x3e, name: 'JS:~hotLoop /tmp/jitexp/app.js:1:17' });
});

t.test('a line still being written is skipped without a warning', async (t) => {
  t.same(parsePerfMap('1000 10 whole\n2000 1', 'm'), { map: parsePerfMap('1000 10 whole\n', 'm').map });
  t.equal(parsePerfMap('1000 10 whole\n2000 10 cut_na', 'm').map.lookup(0x2000)?.name, 'cut_na', 'a complete-looking line is kept until the next read');
  t.match(parsePerfMap('junk\n1000 10 whole\n', 'm').warning, /^m:1: /);
});

t.test('overlaps resolve by line order, whatever the address order', async (t) => {
  // Code memory reused three times, lines out of address order, plus a disjoint entry.
  const map = new PerfMap([0x100, 0x500, 0x080, 0x120], [0x200, 0x600, 0x180, 0x140], ['a', 'far', 'b', 'c']);
  const at = (x: number): string | undefined => map.lookup(x)?.name;
  t.equal(at(0x080), 'b');
  t.equal(at(0x17f), 'b', 'b was written after a');
  t.equal(at(0x130), 'c', 'the latest line wins inside both earlier ones');
  t.equal(at(0x140), 'b');
  t.equal(at(0x180), 'a', 'a shows again where b ends');
  t.equal(at(0x1ff), 'a');
  t.equal(at(0x200), undefined);
  t.equal(at(0x550), 'far');
  t.equal(map.size, 5, 'b, c, b, a, far');
});

// Real processes (sleep) with real files at /tmp/perf-PID.map, read through /proc/PID/root.
async function sleeper(uid?: number): Promise<ChildProcess & { pid: number }> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore', ...(uid === undefined ? {} : { uid, gid: uid }) });
  await new Promise((resolve) => child.once('spawn', resolve));
  return child as ChildProcess & { pid: number };
}

function mapFile(pid: number, text: string, mode = 0o644, uid = 0): string {
  const path = `/tmp/perf-${pid}.map`;
  writeFileSync(path, text);
  chmodSync(path, mode);
  chownSync(path, uid, uid);
  return path;
}

t.test('a map owned by the process or root is read, re-read as it grows, and kept after exit', async (t) => {
  const child = await sleeper();
  const path = mapFile(child.pid, 'garbage line\n1000 10 early\n');
  t.teardown(() => rmSync(path, { force: true }));
  const warnings: string[] = [];
  const maps = new PerfMaps({ warn: (w) => warnings.push(w) });
  t.ok(maps.refresh(child.pid));
  t.equal(maps.lookup(child.pid, 0x1005n)?.name, 'early');
  t.equal(maps.lookup(child.pid, 0x2005n), undefined);
  appendFileSync(path, 'more garbage\n2000 10 late\n');
  t.ok(maps.refresh(child.pid));
  t.equal(maps.lookup(child.pid, 0x2005n)?.name, 'late', 'lines written after the first read are found');
  child.kill();
  await new Promise((resolve) => child.once('exit', resolve));
  rmSync(path);
  maps.refreshAll();
  t.equal(maps.lookup(child.pid, 0x2005n)?.name, 'late', 'what was read stays after the process and file are gone');
  t.same(warnings, [`/tmp/perf-${child.pid}.map:1: skipped a line that is not "START SIZE NAME" (first: "garbage line")`], 'one warning per file');
  maps.close();
});

t.test('hostile maps are refused with one warning', async (t) => {
  if (!requiresRoot(t, 'to chown maps to other users')) return;
  const cases: [string, (pid: number) => string, RegExp, number?][] = [
    ['world-writable', (pid) => mapFile(pid, '1000 10 planted\n', 0o666), /perf map refused: writable by others \(mode 666\)$/],
    ['group-writable', (pid) => mapFile(pid, '1000 10 planted\n', 0o664), /perf map refused: writable by its group/],
    ['owned by another user', (pid) => mapFile(pid, '1000 10 planted\n', 0o644, 65534), /perf map refused: owned by uid 65534, neither the process's user nor root$/],
    ['owned by another user than the process', (pid) => mapFile(pid, '1000 10 planted\n', 0o644, 4242), /owned by uid 4242/, 65534],
    [
      'a symlink to a file root owns',
      (pid) => {
        const target = mapFile(pid + 1_000_000, '1000 10 planted\n');
        symlinkSync(target, `/tmp/perf-${pid}.map`);
        return target;
      },
      /perf map refused: is a symbolic link$/,
    ],
  ];
  for (const [what, plant, expected, uid] of cases) {
    const child = await sleeper(uid);
    const planted = plant(child.pid);
    const warnings: string[] = [];
    const maps = new PerfMaps({ warn: (w) => warnings.push(w) });
    t.notOk(maps.refresh(child.pid), `${what}: not used`);
    t.notOk(maps.refresh(child.pid));
    maps.refreshAll();
    t.equal(maps.lookup(child.pid, 0x1005), undefined, `${what}: no name from it`);
    t.equal(warnings.length, 1, `${what}: one warning`);
    t.match(warnings[0], expected);
    t.match(warnings[0], new RegExp(`^/tmp/perf-${child.pid}\\.map: `));
    child.kill();
    rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
    rmSync(planted, { force: true });
  }
});

t.test('a process of another user may own its map; a map chmod-ed after opening is refused on re-read', async (t) => {
  if (!requiresRoot(t, 'to chown a map and run a process as another user')) return;
  const child = await sleeper(65534);
  const path = mapFile(child.pid, '1000 10 mine\n', 0o644, 65534);
  t.teardown(() => {
    child.kill();
    rmSync(path, { force: true });
  });
  const warnings: string[] = [];
  const maps = new PerfMaps({ warn: (w) => warnings.push(w) });
  t.ok(maps.refresh(child.pid));
  t.equal(maps.lookup(child.pid, 0x1000)?.name, 'mine');
  chmodSync(path, 0o646);
  appendFileSync(path, '2000 10 planted_later\n');
  maps.refresh(child.pid);
  t.equal(maps.lookup(child.pid, 0x2000), undefined, 'nothing read from it once anyone can write it');
  t.equal(maps.lookup(child.pid, 0x1000)?.name, 'mine', 'what was read while it was safe stays');
  t.match(warnings, [/writable by others/]);
  maps.close();
});

t.test('no map, no warning; a process never seen alive is not guessed at', async (t) => {
  const warnings: string[] = [];
  const maps = new PerfMaps({ warn: (w) => warnings.push(w) });
  t.notOk(maps.refresh(process.pid));
  t.notOk(maps.refresh(2 ** 22 + 17), 'no such process');
  t.same(warnings, []);
  t.equal(PerfMaps.moduleName(42), '[perf-42.map]');
});


t.test('a descriptor opened at capture is adopted, read at the end, and left to its owner', async (t) => {
  const child = await sleeper();
  const path = mapFile(child.pid, '1000 10 at_capture\n');
  const held = openPerfMap(child.pid);
  t.same(held && held.key, perfMapKey(child.pid));
  appendFileSync(path, '2000 10 written_at_exit\n');
  child.kill();
  await new Promise((resolve) => child.once('exit', resolve));
  rmSync(path);
  const maps = new PerfMaps();
  t.ok(maps.refresh(child.pid, { uid: 0, nsPids: [child.pid], fds: new Map([[held!.key, held!.fd]]) }));
  t.equal(maps.lookup(child.pid, 0x2000)?.name, 'written_at_exit', 'read after the process and the file are gone');
  maps.close();
  t.ok(fstatSync(held!.fd).isFile(), 'still open: the snapshot owns it');
  closeSync(held!.fd);
  t.equal(openPerfMap(2 ** 22 + 17), undefined, 'no process, nothing opened');
});
