/**
 * Process capture (src/host/procfs.ts): the name it records is the process's comm byte for byte,
 * whether it comes from /proc/PID/status (where the kernel escapes some bytes) or, for a name
 * with bytes the kernel escapes there, from /proc/PID/comm. Real processes, started from copies
 * of /bin/sleep under plain and odd names (the comm is the file name, at most 15 bytes).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { captureProcess, closeCapturedFiles } from '../../src/host/index.js';

t.test('the captured comm is the process comm, escaped in status or not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capture-'));
  t.teardown(() => {
    closeCapturedFiles();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const name of ['plainname', 'back\\slash', 'tab\there', 'new\nline', 'sp ace ']) {
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
