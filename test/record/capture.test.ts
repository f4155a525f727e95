/**
 * Process capture (src/host/procfs.ts): the name it records is the process's comm byte for byte
 * (from /proc/PID/stat, where the kernel escapes nothing). Real processes, started from copies
 * of /bin/sleep under plain and odd names (the comm is the file name, at most 15 bytes). A capture
 * with what the BPF side announces holds the same as one that reads everything from /proc, and
 * none is made for another start time. The maps parser on every live process's maps.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { cgroupKeyOfText } from '../../src/host/cgroups.js';
import { captureProcess, closeCapturedFiles, parseMaps } from '../../src/host/index.js';

t.test('the captured comm is the process comm, escaped in status or not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capture-'));
  t.teardown(() => {
    closeCapturedFiles();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const name of ['plainname', 'back\\slash', 'tab\there', 'new\nline', 'sp ace ', 'pa) (ren']) {
    const program = join(dir, name);
    copyFileSync('/bin/sleep', program);
    const child = spawn(program, ['30'], { stdio: 'ignore' });
    t.teardown(() => void child.kill('SIGKILL'));
    await new Promise((resolve) => child.once('spawn', resolve));
    // After the exec, not the fork: the comm is the program's name once /proc shows it so.
    for (let i = 0; i < 100 && !readFileSync(`/proc/${child.pid}/comm`, 'utf8').startsWith(name.slice(0, 3)); i++) await new Promise((r) => setTimeout(r, 10));
    const expected = readFileSync(`/proc/${child.pid}/comm`, 'utf8').replace(/\n$/, '');
    const snapshot = captureProcess(child.pid!);
    t.equal(snapshot?.comm, expected, `${JSON.stringify(name)}: comm ${JSON.stringify(expected)}`);
    t.equal(expected, name, `${JSON.stringify(name)}: the kernel took the file name as comm`);
  }
});

/** /proc/PID/stat's starttime: field 22, counted from the last ')' (the comm may hold spaces and parentheses). */
const startTicksOf = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'latin1').replace(/^.*\) /s, '').split(' ')[22 - 3]);

t.test('an announced capture holds what a full read of /proc finds', async (t) => {
  const child = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGKILL');
    closeCapturedFiles();
  });
  await new Promise((resolve) => child.once('spawn', resolve));
  const pid = child.pid!;
  // Past the dynamic loader (its mprotect calls split mappings): the same maps twice, 50 ms apart.
  for (let i = 0, last = ''; i < 100; i++) {
    const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
    if (maps === last && readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('sleep')) break;
    last = maps;
    await new Promise((r) => setTimeout(r, 50));
  }
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
  const cgroupKey = cgroupKeyOfText(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
  const full = captureProcess(pid);
  const announced = captureProcess(pid, 'sleep', { startTicks: startTicksOf(pid), uid, pidNsLevel: 0, cgroupKey });
  t.ok(full && announced, 'both captured');
  const { fds: _a, ...fullRest } = full!;
  const { fds: _b, ...announcedRest } = announced!;
  t.same(announcedRest, fullRest, 'comm, mappings, uid, NSpid, cgroup and start time are the same');
  t.equal(announced!.comm, 'sleep');
  t.equal(announced!.uid, uid);
  t.same(announced!.nsPids, [pid]);
  t.equal(announced!.startTicks, startTicksOf(pid));
  t.ok(announced!.mappings.some((m) => m.path === '/usr/bin/sleep' && m.perms.includes('x')), 'the mapped program');
  t.equal(captureProcess(pid, 'sleep', { startTicks: startTicksOf(pid) + 1, uid, pidNsLevel: 0, cgroupKey }), undefined, 'another start time: another process, no snapshot');
});

t.test('maps lines parse by their format, odd lines too', async (t) => {
  // Every live process's maps: each line that has the six fields gives the mapping they say.
  let lines = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch {
      continue;
    }
    const expected = text
      .split('\n')
      .filter((l) => l !== '')
      .map((line) => {
        const [range, perms, offset, dev, inode] = line.split(/\s+/);
        const [start, end] = range!.split('-');
        const path = line.split(/\s+/).length > 5 ? line.replace(/^(\S+\s+){5}/, '') : '';
        return { start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), perms, offset: BigInt(`0x${offset}`), dev, inode: Number(inode), path };
      });
    t.same(parseMaps(text), expected, `/proc/${pid}/maps`);
    lines += expected.length;
  }
  t.ok(lines > 100, `${lines} lines`);
  const odd = parseMaps(
    [
      'garbage',
      '00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/with  two spaces (deleted)',
      'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
      '7f0-7f1 rw-p 0000000g 00:00 0 not hex',
      'zz-7f1 rw-p 00000000 00:00 0',
      '7f0-7f1 rw-p 00000000 0000 0 no colon',
      '7f0-7f1 rw-p 00000000 00:00 0',
    ].join('\n'),
  );
  t.same(
    odd.map((m) => [m.start.toString(16), m.end.toString(16), m.path]),
    [
      ['400000', '452000', '/usr/bin/with  two spaces (deleted)'],
      ['ffffffffff600000', 'ffffffffff601000', '[vsyscall]'],
      ['7f0', '7f1', ''],
    ],
    'malformed lines are skipped; addresses above 2^53 exact',
  );
});
