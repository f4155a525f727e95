// Which processes a lasting symbolizer reads perf maps for again each interval (jitSampledSnapshots
// in src/symbolize/mappings.ts): only those sampled in code that no file holds. Snapshots are of
// this very node process, captured from /proc: libc is a file's code, V8's generated code is not.
import t from 'tap';
import { captureProcess } from '../../src/host/index.js';
import { unwindMarker } from '../../src/profile/raw.js';
import { jitSampledSnapshots } from '../../src/symbolize/mappings.js';

t.test('only processes sampled outside every executable file mapping', async (t) => {
  const snapshot = captureProcess(process.pid);
  t.ok(snapshot, 'captured');
  const libc = snapshot!.mappings.find((m) => m.perms[2] === 'x' && /\/libc\.so\.6$/.test(m.path));
  const vdso = snapshot!.mappings.find((m) => m.path === '[vdso]');
  t.ok(libc && vdso, 'libc and the vDSO are mapped');
  const anonymous = snapshot!.mappings.find((m) => m.perms[2] === 'x' && m.inode === 0 && m.path === '');
  const snapshots = new Map([
    [1, snapshot!],
    [2, snapshot!],
    [3, snapshot!],
  ]);
  const inLibc = libc!.start + 0x100n;
  const samples = [
    // In libc and the vDSO, ended by the walker's marker: no JIT code.
    { pid: 1, userStack: [inLibc, vdso!.start + 0x10n, unwindMarker(0, 1)] },
    // An address no mapping holds (a return address the frame-pointer walk made up, or JIT code mapped later).
    { pid: 2, userStack: [inLibc, 0x10n] },
    // Not captured: nothing to read a perf map with.
    { pid: 4, userStack: [0x10n] },
  ];
  if (anonymous) samples.push({ pid: 3, userStack: [anonymous.start + 0x20n, inLibc] });
  const chosen = jitSampledSnapshots(samples, snapshots);
  t.same([...chosen.keys()].sort(), anonymous ? [2, 3] : [2], 'the processes sampled outside file code');
  t.equal(chosen.get(2), snapshot, 'with their snapshot');
});
